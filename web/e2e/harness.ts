/**
 * End-to-end harness: a real `coffer serve` on loopback, the real CLI for
 * the owner's side, and Debian's Chromium driven by playwright-core for the
 * recipient's.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

export const webDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const repoDir = resolve(webDir, '..');
/** Where screenshots go, to be looked at (not committed). */
export const shotsDir = join(webDir, 'e2e', 'screenshots');

/** The coffer binary: $COFFER_BIN, or built once into a temporary folder. */
export function cofferBinary(): string {
  if (process.env.COFFER_BIN) return resolve(process.env.COFFER_BIN);
  const out = join(mkdtempSync(join(tmpdir(), 'coffer-e2e-bin-')), 'coffer');
  const r = spawnSync('go', ['build', '-o', out, './cmd/coffer'], { cwd: repoDir, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('go build ./cmd/coffer failed');
  return out;
}

export interface Server {
  url: string;
  data: string;
  log: () => string;
  stop: () => Promise<void>;
}

/** Starts `coffer serve` on a free loopback port with a fresh data folder. */
export async function startServer(bin: string): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-e2e-'));
  const data = join(dir, 'data');
  // The log goes to a file, not a pipe: the CLI runs with spawnSync, which
  // blocks this process, and a pipe nobody reads would fill and stall the
  // server mid-request.
  const logPath = join(dir, 'server.log');
  const logFd = openSync(logPath, 'w');
  const proc: ChildProcess = spawn(bin, ['serve', '--data', data, '--listen', '127.0.0.1:0', '--log-level', 'debug'], { stdio: ['ignore', 'pipe', logFd] });
  closeSync(logFd);
  const log = () => readFileSync(logPath, 'utf8');
  const exited = new Promise<void>((res) => proc.once('exit', () => res()));
  const url = await new Promise<string>((res, rej) => {
    let out = '';
    const timer = setTimeout(() => rej(new Error('server printed no URL:\n' + log())), 30_000);
    proc.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /serving on (https?:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        res(m[1]!);
      }
    });
    proc.once('exit', () => rej(new Error('server exited:\n' + log())));
  });
  return {
    url,
    data,
    log,
    stop: async () => {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one CLI command with env (no terminal). */
export function cli(bin: string, env: Record<string, string>, ...args: string[]): Result {
  const r = spawnSync(bin, args, { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function mustOK(r: Result, what: string): Result {
  if (r.code !== 0) throw new Error(`${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

/** Debian's Chromium, headless, as docs/design.md §4 says. */
export async function launchChromium(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  // Fail (never skip) without a browser, and say how to get one.
  if (!existsSync(executablePath)) {
    throw new Error(`no Chromium at ${executablePath}: install it (apt-get install chromium) or set CHROMIUM_PATH`);
  }
  return chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  });
}

/** Every file a stopped server wrote (database, blocks, logs), for the zero-knowledge search. */
export function haystacks(srv: Server): Map<string, Buffer> {
  const out = new Map<string, Buffer>([['server log', Buffer.from(srv.log())]]);
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(p, readFileSync(p));
    }
  };
  walk(srv.data);
  return out;
}

/** The forms a secret could be written in: raw, hex, base64 and base64url. */
export function encodings(s: Buffer): Buffer[] {
  const forms = [s];
  if (s.length >= 16) {
    forms.push(Buffer.from(s.toString('hex')), Buffer.from(s.toString('base64').replace(/=+$/, '')), Buffer.from(s.toString('base64url')));
  }
  return forms;
}

export function ensureDir(p: string): string {
  mkdirSync(p, { recursive: true });
  return p;
}
