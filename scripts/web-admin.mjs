// The web admin in a real browser (issue 17): Chromium driven by playwright-core against a
// running mailroom (scripts/web-admin.sh starts it and passes its addresses).
//
// Logs in as an administrator, adds an account, opens an IMAP session as that account and
// sees it appear in the live monitor, closes it there (the IMAP client gets BYE), posts
// an alert and sees it at the next IMAP login, changes a setting, scrapes /metrics; one
// screenshot per page into $SHOTS. Every wait is for an event (a selector, a line from
// the server), with a generous limit only so that a broken server fails the test
// instead of hanging it.
import { chromium } from 'playwright-core';
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';

const ADMIN = process.env.ADMIN_URL;          // https://127.0.0.1:PORT
const IMAP_PORT = Number(process.env.IMAP_PORT);
const SHOTS = process.env.SHOTS;
const PROFILE = process.env.PROFILE;          // a fresh user-data-dir
const LIMIT = 20000;                          // ms, for each wait

fs.mkdirSync(SHOTS, { recursive: true });
let shot = 0;
async function snap(page, name) {
  shot += 1;
  const file = path.join(SHOTS, `${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot ${file}`);
}
function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`ok: ${what}`);
}

// A minimal IMAP line client over a real TCP connection.
class Imap {
  constructor(port) {
    this.buf = '';
    this.lines = [];
    this.waiters = [];
    this.closed = false;
    this.sock = net.connect(port, '127.0.0.1');
    this.sock.setEncoding('utf8');
    this.sock.on('data', (d) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf('\r\n')) >= 0) {
        this.lines.push(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 2);
      }
      this.wake();
    });
    this.sock.on('close', () => { this.closed = true; this.wake(); });
    this.sock.on('error', () => { this.closed = true; this.wake(); });
  }
  wake() { const w = this.waiters; this.waiters = []; w.forEach((f) => f()); }
  // The next line, or null once the server closed the connection.
  async line() {
    const deadline = Date.now() + LIMIT;
    while (this.lines.length === 0) {
      if (this.closed) return null;
      if (Date.now() > deadline) throw new Error('no line from the IMAP server');
      await new Promise((r) => { this.waiters.push(r); setTimeout(r, 500); });
    }
    return this.lines.shift();
  }
  send(l) { this.sock.write(l + '\r\n'); }
  // Sends a command; returns every line up to its tagged answer.
  async cmd(tag, text) {
    this.send(`${tag} ${text}`);
    const out = [];
    for (;;) {
      const l = await this.line();
      if (l === null) throw new Error(`connection closed during ${text}: ${out}`);
      out.push(l);
      if (l.startsWith(`${tag} `)) return out;
    }
  }
  end() { this.sock.destroy(); }
}

// A fresh user-data-dir (playwright passes it as --user-data-dir).
const context = await chromium.launchPersistentContext(PROFILE, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  ignoreHTTPSErrors: true,
  viewport: { width: 1200, height: 800 },
});
try {
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(LIMIT);
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));

  // 1. Logged out: the login page. A wrong password, then the administrator.
  await page.goto(`${ADMIN}/`);
  check(page.url().endsWith('/login'), 'logged out, / leads to the login page');
  await snap(page, 'login');
  await page.fill('#user', 'boss');
  await page.fill('#password', 'wrong');
  await page.click('#login');
  await page.waitForSelector('#error');
  check((await page.textContent('#error')).includes('Invalid user name or password'), 'a wrong password is refused');
  await page.fill('#user', 'boss');
  await page.fill('#password', 'boss-pw');
  await page.click('#login');
  await page.waitForSelector('text=Overview');
  const cookies = await context.cookies();
  const sc = cookies.find((c) => c.name === 'mailroom_admin');
  check(sc && sc.secure && sc.httpOnly && sc.sameSite === 'Strict', 'session cookie is Secure, HttpOnly, SameSite=Strict');
  await snap(page, 'overview');

  // 2. Add an account.
  await page.goto(`${ADMIN}/accounts`);
  await page.fill('#new-account', 'webuser');
  await page.fill('#new-password', 'web-pw');
  await page.click('#add-account-button');
  await page.waitForSelector('#flash');
  check((await page.textContent('#flash')).includes('account webuser@localhost added'), 'account added');
  check((await page.textContent('#accounts')).includes('webuser@localhost'), 'the new account is listed');
  await snap(page, 'accounts');

  // 3. An IMAP session as the new account appears in the monitor; close it there.
  const imap = new Imap(IMAP_PORT);
  check((await imap.line()).startsWith('* OK'), 'IMAP greeting');
  check((await imap.cmd('a1', 'LOGIN webuser web-pw')).pop().startsWith('a1 OK'), 'the new account logs in over IMAP');
  check((await imap.cmd('a2', 'SELECT INBOX')).pop().startsWith('a2 OK'), 'SELECT INBOX');
  await page.goto(`${ADMIN}/sessions`);
  const row = page.locator('#session-rows tr', { hasText: 'webuser@localhost' });
  await row.waitFor();
  const rowText = await row.textContent();
  check(rowText.includes('IMAP-') && rowText.includes('selected') && rowText.includes('127.0.0.1'), `monitor shows the session: ${rowText}`);
  await snap(page, 'sessions');
  await row.locator('button').click();
  check((await imap.line()) === '* BYE closed by the administrator', 'the IMAP client gets BYE from the close button');
  check((await imap.line()) === null, 'and the connection ends');
  await page.locator('#session-rows tr', { hasText: 'webuser@localhost' }).waitFor({ state: 'detached' });
  check(true, 'the closed session leaves the monitor');
  imap.end();

  // 4. Post an alert; the next IMAP login shows it.
  await page.goto(`${ADMIN}/alerts`);
  await page.fill('#alert-account', 'webuser');
  await page.fill('#alert-text', 'Maintenance tonight at 22:00');
  await page.click('#post-alert-button');
  await page.waitForSelector('#flash');
  check((await page.textContent('#flash')).includes('posted to webuser@localhost'), 'alert posted');
  await snap(page, 'alerts');
  const again = new Imap(IMAP_PORT);
  check((await again.line()).startsWith('* OK'), 'IMAP greeting');
  const login = await again.cmd('b1', 'LOGIN webuser web-pw');
  check(login.some((l) => l === '* OK [ALERT] Maintenance tonight at 22:00'), `the alert is shown at the next login: ${login.join(' | ')}`);
  await again.cmd('b2', 'LOGOUT');
  again.end();

  // 5. The other pages: domains, aliases, router, mailbox aliases, ACLs, settings, graphs.
  await page.goto(`${ADMIN}/domains`);
  await page.fill('input[name=name]', 'example.org');
  await page.click('text=Add domain');
  await page.waitForSelector('#flash');
  check((await page.textContent('#domains')).includes('example.org'), 'domain added');
  await snap(page, 'domains');

  await page.goto(`${ADMIN}/aliases`);
  await page.fill('input[name=address]', 'info');
  await page.fill('input[name=target]', 'webuser');
  await page.click('text=Add alias');
  await page.waitForSelector('#flash');
  check((await page.textContent('#aliases')).includes('info@localhost'), 'alias added');
  await snap(page, 'aliases');

  await page.goto(`${ADMIN}/router`);
  await page.fill('input[name=line]', 'client1.com = cl1.local');
  await page.click('text=Add entry');
  await page.waitForSelector('#flash');
  await snap(page, 'router');

  await page.goto(`${ADMIN}/mailbox-aliases?account=webuser`);
  await page.fill('form.box input[name=name]', 'boss-inbox');
  await page.fill('form.box input[name=target]', '~boss/INBOX');
  await page.click('text=Add mailbox alias');
  await page.waitForSelector('#flash');
  check((await page.textContent('#mailbox-aliases')).includes('boss-inbox'), 'mailbox alias added');
  await snap(page, 'mailbox-aliases');

  await page.goto(`${ADMIN}/acl?account=webuser&mailbox=INBOX`);
  await page.fill('input[name=identifier]', 'boss');
  await page.fill('input[name=rights]', 'lr');
  await page.click('text=Set rights');
  await page.waitForSelector('#flash');
  check((await page.textContent('#acl')).includes('boss@localhost'), `ACL entry set: ${await page.textContent('#flash')}`);
  await snap(page, 'acl');

  await page.goto(`${ADMIN}/settings`);
  await page.fill('#max-pop3', '42');
  await page.click('#save-pop3');
  await page.waitForSelector('#flash');
  check((await page.inputValue('#max-pop3')) === '42', 'POP3 maximum channels changed');
  // IMAP to All Info: the server logs every IMAP command from now on (web-admin.sh
  // checks its log for the NOOPs below).
  await page.selectOption('#level-imap', 'AllInfo');
  await page.click('#save-imap');
  await page.waitForSelector('#flash');
  check((await page.textContent('#flash')).includes('settings of IMAP saved'), 'IMAP log level changed');
  check((await page.inputValue('#level-imap')) === 'AllInfo', 'the page shows the new IMAP log level');
  await snap(page, 'settings');

  // Graphs: traffic while the page samples, until the commands chart shows a rate.
  await page.goto(`${ADMIN}/graphs`);
  await page.waitForFunction(() => typeof series !== 'undefined' && series.commands && series.commands.length >= 1);
  const busy = new Imap(IMAP_PORT);
  check((await busy.line()).startsWith('* OK'), 'IMAP greeting');
  await busy.cmd('g0', 'LOGIN webuser web-pw');
  let n = 0;
  const until = Date.now() + LIMIT;
  for (;;) {
    if (Date.now() > until) throw new Error('the graphs never showed the traffic');
    await busy.cmd(`g${++n}`, 'NOOP');
    const drawn = await page.evaluate(() => series.commands.some((v) => v > 0) && series.connections[series.connections.length - 1] >= 1);
    if (drawn) break;
  }
  check(true, `the graphs show commands per second and the open connection (after ${n} NOOPs)`);
  await snap(page, 'graphs');
  await busy.cmd('gz', 'LOGOUT');
  busy.end();

  // 6. The statistics moved with the traffic above.
  const metrics = await (await context.request.get(`${ADMIN}/metrics`)).text();
  const value = (re) => metrics.split('\n').filter((l) => re.test(l)).reduce((s, l) => s + Number(l.split(' ').pop()), 0);
  check(value(/^mailroom_logins_total\{.*module="imap".*mechanism="LOGIN".*result="ok"/) >= 2, 'logins counted in /metrics');
  check(value(/^mailroom_commands_total\{.*command="SELECT".*result="OK"/) >= 1, 'commands counted in /metrics');
  check(value(/^mailroom_connections_total\{module="imap"\}/) >= 2, 'connections counted in /metrics');

  // 7. Errors: an unknown page, and a form without its token.
  await page.goto(`${ADMIN}/no-such-page`);
  check((await page.textContent('#error-title')) === 'No such page', 'an unknown page shows the error page');
  await snap(page, 'error');
  const forged = await context.request.post(`${ADMIN}/accounts`, { form: { op: 'remove', account: 'webuser' } });
  check(forged.status() === 403, 'a form without the CSRF token is refused');

  check(errors.length === 0, `no JavaScript errors ${errors.join('; ')}`);
  console.log(`web admin browser test passed; screenshots in ${SHOTS}`);
} finally {
  await context.close();
}
