/**
 * Public links in a real browser: the owner makes every kind of link with
 * the CLI; Chromium, with no account, opens them, downloads and uploads;
 * the bytes are compared with the originals. A tampering server (Playwright
 * routes rewriting the API's answers) is refused. Afterwards nothing the
 * server wrote holds a link secret, the password, a name or content.
 *
 * Screenshots of every state land in web/e2e/screenshots/ (look at them).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, readFileSync, writeFileSync, openSync, writeSync, closeSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { cli, cofferBinary, encodings, ensureDir, haystacks, launchChromium, mustOK, shotsDir, startServer, type Server } from './harness.ts';

const marker = 'BROWSER-LINK-MARKER-4d81e0';
const names = {
  report: 'Albatross-Report.txt',
  folder: 'Cormorant-Album',
  photo: 'Gannet-Photo.bin',
  note: 'Puffin-Note.txt',
  sub: 'Tern-Subfolder',
  deep: 'Skua-Deep.txt',
  requests: 'Petrel-Requests',
  up1: 'Fulmar-Upload-One.txt',
  up2: 'Shearwater-Upload-Two.bin',
  other: 'Booby-Other.txt',
  big: 'Frigatebird-1GiB.bin',
};
const linkPassword = 'Correct-Horse-Link-4471';

let bin: string;
let srv: Server;
let browser: Browser;
let owner: Record<string, string>;
let local: string;
const secrets: string[] = [linkPassword];
const content = {
  report: Buffer.from(`${marker} the report`),
  photo: Buffer.concat([Buffer.from(marker), randomBytes(5 << 20)]),
  note: Buffer.from(`${marker} a note`),
  deep: Buffer.from(`${marker} deep down`),
  up1: Buffer.from(`${marker} dropped from the browser`),
  up2: Buffer.concat([Buffer.from(marker), randomBytes(6 << 20)]),
  other: Buffer.from(`${marker} another file entirely`),
};

function write(name: string, data: Buffer): string {
  const p = join(local, name);
  writeFileSync(p, data);
  return p;
}

function createLink(...args: string[]): string {
  const r = mustOK(cli(bin, owner, 'link', 'create', ...args), `link create ${args.join(' ')}`);
  const url = r.stdout.trim();
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/s\/[A-Za-z0-9_-]{22}#[A-Za-z0-9_-]{43}$/);
  secrets.push(url.slice(url.indexOf('#') + 1));
  return url;
}

const linkID = (url: string) => url.slice(url.indexOf('/s/') + 3, url.indexOf('#'));

async function open(url: string): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext({ acceptDownloads: true });
  const page = await ctx.newPage();
  return { ctx, page };
}

async function shot(page: Page, name: string) {
  await page.screenshot({ path: join(ensureDir(shotsDir), `${name}.png`), fullPage: true });
}

/** Clicks selector and returns the downloaded bytes. */
async function download(page: Page, selector: string): Promise<Buffer> {
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 120_000 }), page.click(selector)]);
  const p = join(mkdtempSync(join(tmpdir(), 'coffer-dl-')), 'file');
  await dl.saveAs(p);
  const failure = await dl.failure();
  assert.equal(failure, null, `download failed: ${failure}`);
  return readFileSync(p);
}

async function errorCode(page: Page): Promise<string> {
  const el = page.getByTestId('error');
  await el.waitFor({ timeout: 60_000 });
  return (await el.getAttribute('data-code')) ?? '';
}

before(async () => {
  bin = cofferBinary();
  srv = await startServer(bin);
  local = mkdtempSync(join(tmpdir(), 'coffer-e2e-local-'));
  owner = { COFFER_SERVER: srv.url, COFFER_USER: 'alice', COFFER_PASSWORD: 'browser e2e pw alice', COFFER_CONFIG_DIR: join(local, '.alice') };
  mustOK(cli(bin, owner, 'signup'), 'signup');
  mustOK(cli(bin, owner, 'put', write(names.report, content.report), write(names.other, content.other), '/'), 'put files');
  mustOK(cli(bin, owner, 'mkdir', '-p', `/${names.folder}/${names.sub}`), 'mkdir');
  mustOK(cli(bin, owner, 'put', write(names.photo, content.photo), write(names.note, content.note), `/${names.folder}/`), 'put folder');
  mustOK(cli(bin, owner, 'put', write(names.deep, content.deep), `/${names.folder}/${names.sub}/`), 'put deep');
  mustOK(cli(bin, owner, 'mkdir', `/${names.requests}`), 'mkdir requests');
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await srv?.stop();
});

describe('public links in Chromium', () => {
  test('a file link: name, size, download, same bytes', async () => {
    const url = createLink(`/${names.report}`);
    const { ctx, page } = await open(url);
    await page.goto(url);
    await page.getByTestId('file-view').waitFor();
    assert.equal(await page.getByTestId('file-name').innerText(), names.report);
    assert.match(await page.getByTestId('file-size').innerText(), /\d/);
    await shot(page, '01-file');
    assert.deepEqual(await download(page, '[data-testid=download]'), content.report);
    await page.getByTestId('done').waitFor();
    await shot(page, '02-file-downloaded');
    await ctx.close();
  });

  test('a folder link: the tree, one file, and all of it as a zip', async () => {
    const url = createLink(`/${names.folder}`);
    const { ctx, page } = await open(url);
    await page.goto(url);
    await page.getByTestId('folder-view').waitFor();
    assert.equal(await page.getByTestId('folder-name').innerText(), names.folder);
    await page.locator(`[data-testid=file-row][data-name="${names.photo}"]`).waitFor();
    await shot(page, '03-folder');
    const photo = await download(page, `[data-testid=file-row][data-name="${names.photo}"] [data-testid=download-file]`);
    assert.ok(photo.equals(content.photo), 'the photo differs');
    const zip = await download(page, '[data-testid=download-all]');
    const out = mkdtempSync(join(tmpdir(), 'coffer-zip-'));
    writeFileSync(join(out, 'all.zip'), zip);
    const r = spawnSync('python3', ['-m', 'zipfile', '-e', join(out, 'all.zip'), join(out, 'x')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const root = join(out, 'x', ...(readdirSync(join(out, 'x')).includes(names.folder) ? [names.folder] : []));
    assert.ok(readFileSync(join(root, names.photo)).equals(content.photo));
    assert.deepEqual(readFileSync(join(root, names.note)), content.note);
    assert.deepEqual(readFileSync(join(root, names.sub, names.deep)), content.deep);
    await shot(page, '04-folder-zipped');
    await ctx.close();
  });

  test('a password link: wrong password, then the right one', async () => {
    const r = mustOK(cli(bin, { ...owner, COFFER_LINK_PASSWORD: linkPassword }, 'link', 'create', `/${names.report}`, '--password'), 'link create --password');
    const url = r.stdout.trim();
    secrets.push(url.slice(url.indexOf('#') + 1));
    const { ctx, page } = await open(url);
    await page.goto(url);
    await page.getByTestId('password-form').waitFor();
    await shot(page, '05-password');
    await page.getByTestId('password-input').fill('not the password');
    await page.getByTestId('password-submit').click();
    assert.equal(await errorCode(page), 'wrong-password');
    await shot(page, '06-password-wrong');
    await page.getByTestId('password-input').fill(linkPassword);
    await page.getByTestId('password-submit').click();
    await page.getByTestId('file-view').waitFor({ timeout: 60_000 });
    assert.deepEqual(await download(page, '[data-testid=download]'), content.report);
    await ctx.close();
  });

  test('an expired link says so', async () => {
    const url = createLink(`/${names.report}`, '--expires', '2s');
    await new Promise((res) => setTimeout(res, 3000));
    const { ctx, page } = await open(url);
    await page.goto(url);
    assert.equal(await errorCode(page), 'expired');
    await shot(page, '07-expired');
    await ctx.close();
  });

  test('a revoked link says so', async () => {
    const url = createLink(`/${names.report}`);
    mustOK(cli(bin, owner, 'link', 'rm', linkID(url)), 'link rm');
    const { ctx, page } = await open(url);
    await page.goto(url);
    assert.equal(await errorCode(page), 'revoked');
    await shot(page, '08-revoked');
    await ctx.close();
  });

  test('a link with one download, used up', async () => {
    const url = createLink(`/${names.report}`, '--max-downloads', '1');
    let { ctx, page } = await open(url);
    await page.goto(url);
    await page.getByTestId('file-view').waitFor();
    assert.deepEqual(await download(page, '[data-testid=download]'), content.report);
    await ctx.close();
    ({ ctx, page } = await open(url));
    await page.goto(url);
    assert.equal(await errorCode(page), 'limit-reached');
    await shot(page, '09-used-up');
    await ctx.close();
  });

  test('a file request: two files from the browser, received by the owner', async () => {
    const url = createLink(`/${names.requests}`, '--upload-only', '--max-files', '5');
    const { ctx, page } = await open(url);
    await page.goto(url);
    await page.getByTestId('upload-view').waitFor();
    await shot(page, '10-upload');
    await page.getByTestId('file-input').setInputFiles([write(names.up1, content.up1), write(names.up2, content.up2)]);
    await page.getByTestId('upload-done').waitFor({ timeout: 120_000 });
    const rows = page.getByTestId('upload-row');
    assert.equal(await rows.count(), 2);
    for (const row of await rows.all()) assert.equal(await row.getAttribute('data-status'), 'done');
    await shot(page, '11-uploaded');
    await ctx.close();
    const got = mkdtempSync(join(tmpdir(), 'coffer-got-'));
    mustOK(cli(bin, owner, 'get', `/${names.requests}`, got), 'owner gets the uploads');
    assert.deepEqual(readFileSync(join(got, names.requests, names.up1)), content.up1);
    assert.ok(readFileSync(join(got, names.requests, names.up2)).equals(content.up2));
    const ls = mustOK(cli(bin, owner, 'ls', '-l', `/${names.requests}`), 'ls -l');
    assert.match(ls.stdout, /anonymous/);
  });

  describe('a tampering server is refused', () => {
    let aURL: string;
    let bURL: string;
    let bFinish: Record<string, unknown>;
    let bNode: string;
    before(async () => {
      aURL = createLink(`/${names.report}`);
      bURL = createLink(`/${names.other}`);
      // What the server gives for b, to serve under a.
      const { ctx, page } = await open(bURL);
      page.on('response', async (resp) => {
        const u = resp.url();
        if (u.endsWith('/login/finish')) bFinish = (await resp.json()) as Record<string, unknown>;
        else if (u.includes(`/v1/links/${linkID(bURL)}/nodes/`)) bNode = await resp.text();
      });
      await page.goto(bURL);
      await page.getByTestId('file-view').waitFor();
      await ctx.close();
      assert.ok(bFinish && bNode, 'captured b');
    });

    async function refused(name: string, setup: (page: Page) => Promise<unknown>, act?: (page: Page) => Promise<void>) {
      const { ctx, page } = await open(aURL);
      await setup(page);
      await page.goto(aURL);
      if (act) await act(page);
      assert.equal(await errorCode(page), 'tampered');
      await shot(page, `12-tampered-${name}`);
      await ctx.close();
    }

    test("another link's sealed payload", async () => {
      await refused('payload', (page) =>
        page.route('**/login/finish', async (route) => {
          const resp = await route.fetch();
          const body = (await resp.json()) as Record<string, unknown>;
          await route.fulfill({ response: resp, json: { ...body, payload: bFinish.payload } });
        }),
      );
    });

    test("another file's record and key under the link", async () => {
      await refused('record', (page) =>
        page.route(`**/v1/links/${linkID(aURL)}/nodes/**`, (route) => route.fulfill({ status: 200, contentType: 'application/json', body: bNode })),
      );
    });

    test("another file's blocks under the link", async () => {
      await refused(
        'blocks',
        (page) =>
          page.route(`**/v1/links/${linkID(aURL)}/blocks/**`, async (route) => {
            const resp = await route.fetch();
            const body = await resp.body();
            body[body.length - 1] ^= 1;
            await route.fulfill({ response: resp, body });
          }),
        async (page) => {
          await page.getByTestId('file-view').waitFor();
          await page.click('[data-testid=download]');
        },
      );
    });

    test('downgraded KDF parameters', async () => {
      await refused('kdf', (page) =>
        page.route(`**/v1/links/${linkID(aURL)}`, async (route) => {
          const resp = await route.fetch();
          const body = (await resp.json()) as { kdf: Record<string, unknown> };
          await route.fulfill({ response: resp, json: { ...body, kdf: { ...body.kdf, memory_kib: 1024, iterations: 1 } } });
        }),
      );
    });
  });

  test('a 1 GiB file streams to disk', async () => {
    // Written in 16 MiB steps; hashed as it is written.
    const path = join(local, names.big);
    const fd = openSync(path, 'w');
    const step = randomBytes(16 << 20);
    const want = createHash('sha256');
    for (let i = 0; i < 64; i++) {
      step.writeUInt32BE(i, 0);
      writeSync(fd, step);
      want.update(step);
    }
    closeSync(fd);
    // A server of its own, so that the zero-knowledge search below need
    // not read a gigabyte of ciphertext.
    const bigSrv = await startServer(bin);
    const bob = { COFFER_SERVER: bigSrv.url, COFFER_USER: 'bob', COFFER_PASSWORD: 'browser e2e pw bob', COFFER_CONFIG_DIR: join(local, '.bob') };
    mustOK(cli(bin, bob, 'signup'), 'signup bob');
    mustOK(cli(bin, bob, 'put', '--quiet', path, '/'), 'put 1 GiB');
    const url = mustOK(cli(bin, bob, 'link', 'create', `/${names.big}`), 'link the 1 GiB file').stdout.trim();
    const { ctx, page } = await open(url);
    await page.goto(url);
    await page.getByTestId('file-view').waitFor();
    // The page must never hold the file: sample its JavaScript heap while
    // the download runs and keep the peak.
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('Performance.enable');
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const { metrics } = (await cdp.send('Performance.getMetrics')) as { metrics: { name: string; value: number }[] };
        peak = Math.max(peak, metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? 0);
        await new Promise((res) => setTimeout(res, 250));
      }
    })();
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 300_000 }), page.click('[data-testid=download]')]);
    const saved = await dl.path();
    sampling = false;
    await sampler;
    assert.equal(await dl.failure(), null);
    const got = createHash('sha256');
    for await (const chunk of createReadStream(saved)) got.update(chunk as Buffer);
    assert.equal(got.digest('hex'), want.digest('hex'));
    assert.ok(peak > 0 && peak < 128 << 20, `the page's JS heap peaked at ${peak} bytes during a 1 GiB download`);
    await ctx.close();
    await bigSrv.stop();
  });
});

describe('zero knowledge', () => {
  test('the server wrote no secret, password, name or content', async () => {
    await srv.stop();
    const needles: Buffer[] = [Buffer.from(marker)];
    for (const n of Object.values(names)) needles.push(Buffer.from(n));
    for (const [i, s] of secrets.entries()) {
      needles.push(...encodings(Buffer.from(s)));
      if (i > 0) needles.push(...encodings(Buffer.from(s, 'base64url')));
    }
    const found: string[] = [];
    for (const [where, hay] of haystacks(srv)) {
      for (const n of needles) if (hay.includes(n)) found.push(`${n.toString('utf8').slice(0, 40)} in ${where}`);
    }
    assert.deepEqual(found, []);
  });
});
