//! POP3 command grammar (to be written).
