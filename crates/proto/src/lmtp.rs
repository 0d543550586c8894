//! LMTP (to be written).
