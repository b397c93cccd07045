/**
 * Browser download throughput of a public link (docs/benchmarks.md,
 * "Browser download (public links)").
 *
 *   cd web && COFFER_BIN=../bin/coffer node --import tsx e2e/bench.ts
 *   (npm run bench: the same, building coffer first when COFFER_BIN is unset)
 *
 * A real `coffer serve` on loopback; the owner signs up and uploads one file
 * of random bytes with the CLI and makes a link to it; Debian's Chromium
 * (headless, driven by playwright-core) opens the link in a fresh context
 * and clicks Download. The time is from the click to Playwright's
 * download.path() resolving, which it does once the browser has written
 * the whole file; the file's SHA-256 is then checked against the original.
 * The page's JavaScript heap (CDP Performance.getMetrics, JSHeapUsedSize)
 * is sampled every 100 ms during the download and its peak reported.
 * `coffer get URL` on the same link is timed for comparison (wall time of
 * the whole process).
 *
 * Each measurement runs BENCH_RUNS times (default 3); the median is
 * reported. Each run also reports the CPU this benchmark's processes used
 * (in cores: CPU seconds per second of the run) and what every other
 * process on the machine used meanwhile; other work skews the figures, so
 * compare runs where that is near zero. Environment:
 *   BENCH_SIZE_MIB  file size in MiB (default 256)
 *   BENCH_RUNS      runs per measurement (default 3)
 *   BENCH_WARM=0    skip the page-cache warm-up (see warmUp)
 *   BENCH_CLI=0     skip the `coffer get` runs
 *   BENCH_PROFILE=F write a CPU profile of the page (Chrome DevTools
 *                   format, .cpuprofile) of the first browser run to F
 *   BENCH_THREADS=1 print the CPU time of every thread of Chromium and
 *                   of the server during each browser run (Linux /proc)
 *
 * MB = 10^6 bytes, MiB = 2^20 bytes. A benchmark only measures: nothing
 * here fails on a slow figure, only on a wrong byte or a failed command.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, fsyncSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Browser, CDPSession } from 'playwright-core';
import { cli, cofferBinary, launchChromium, mustOK, startServer } from './harness.ts';

const MiB = 1 << 20;
const sizeMiB = Number(process.env.BENCH_SIZE_MIB ?? '256');
const runs = Number(process.env.BENCH_RUNS ?? '3');
const warm = process.env.BENCH_WARM !== '0';
const profilePath = process.env.BENCH_PROFILE;
const threads = process.env.BENCH_THREADS === '1';
const withCLI = process.env.BENCH_CLI !== '0';
if (!Number.isInteger(sizeMiB) || sizeMiB < 1 || !Number.isInteger(runs) || runs < 1) {
  throw new Error('BENCH_SIZE_MIB and BENCH_RUNS must be positive integers');
}
const size = sizeMiB * MiB;

interface Run {
  seconds: number;
  /** Peak JSHeapUsedSize of the page during the download, bytes (browser runs only). */
  peakHeap?: number;
  /** CPU used by this benchmark's processes (Chromium or the CLI, and the server) during the run, in cores. */
  ours?: number;
  /** CPU used by every other process on the machine during the run, in cores. */
  others?: number;
}

/** Writes `size` random bytes to path in 16 MiB steps; returns their SHA-256 (hex). */
function writeRandomFile(path: string): string {
  const fd = openSync(path, 'w');
  const h = createHash('sha256');
  const step = randomBytes(16 * MiB);
  for (let done = 0; done < size; done += step.length) {
    // A fresh prefix for every 4 MiB, so that no two blocks' plaintexts are equal.
    for (let o = 0; o < step.length; o += 4 * MiB) randomBytes(64).copy(step, o);
    const part = step.subarray(0, Math.min(step.length, size - done));
    writeSync(fd, part);
    h.update(part);
  }
  fsyncSync(fd);
  closeSync(fd);
  return h.digest('hex');
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * MiB })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * These machines are virtual, with free page reporting: memory idle for a
 * few seconds goes back to the hypervisor, and filling page cache from it
 * is several times slower than from memory just freed (docs/benchmarks.md,
 * "How it is measured"). Writing and deleting a file the size of the
 * download first, untimed, makes each run start from the same state.
 */
function warmUp(dir: string): void {
  if (!warm) return;
  const p = join(dir, 'warm-up');
  const fd = openSync(p, 'w');
  const step = Buffer.alloc(16 * MiB, 1);
  for (let done = 0; done < size; done += step.length) writeSync(fd, step);
  closeSync(fd);
  rmSync(p);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function rate(seconds: number): string {
  return `${(size / 1e6 / seconds).toFixed(0)} MB/s = ${(size / MiB / seconds).toFixed(0)} MiB/s`;
}

async function heapUsed(cdp: CDPSession): Promise<number> {
  const { metrics } = (await cdp.send('Performance.getMetrics')) as { metrics: { name: string; value: number }[] };
  return metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? 0;
}

/**
 * CPU seconds (user + system) of every thread of this process's
 * descendants (Chromium's processes and the server), keyed by process kind
 * and thread name, e.g. "renderer/DedicatedWorker" (the renderer's main
 * thread shows as "renderer/chromium").
 */
function threadTimes(): Map<string, [user: number, system: number]> {
  const tick = 100; // USER_HZ on Linux
  const parent = new Map<number, number>();
  const read = (p: string) => {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return '';
    }
  };
  // Fields after the parenthesised name: state ppid ... utime(14) stime(15).
  const fields = (stat: string) => stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const f = fields(read(`/proc/${d}/stat`));
    if (f.length > 2) parent.set(Number(d), Number(f[1]));
  }
  const mine = (pid: number): boolean => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === process.pid) return true;
    return false;
  };
  const out = new Map<string, [number, number]>();
  for (const pid of parent.keys()) {
    if (!mine(pid)) continue;
    // Chromium rewrites its processes' titles, flags included.
    const cmd = read(`/proc/${pid}/cmdline`).replaceAll('\0', ' ');
    const type = /--type=(\S+)/.exec(cmd)?.[1];
    const sub = /--utility-sub-type=(\S+)/.exec(cmd)?.[1];
    const kind = type ? (sub ? `${type}:${sub.replace(/\.mojom\.\w+$/, '')}` : type) : / serve /.test(cmd) ? 'coffer-serve' : 'browser';
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      const stat = read(`/proc/${pid}/task/${t}/stat`);
      if (!stat) continue;
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = fields(stat);
      const key = `${kind}/${name}`;
      const [u, s] = out.get(key) ?? [0, 0];
      out.set(key, [u + Number(f[11]) / tick, s + Number(f[12]) / tick]);
    }
  }
  return out;
}

/** CPU seconds the whole machine spent busy so far (/proc/stat: all but idle and iowait). */
function machineBusy(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return (total - f[3]! - f[4]!) / 100;
}

/** CPU seconds of this process's children that have exited and been waited for (the CLI runs). */
function exitedChildren(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / 100;
}

/**
 * CPU seconds used between two threadTimes snapshots. Threads of processes
 * that exited meanwhile (a closed context's renderer) count for nothing
 * rather than less than nothing.
 */
function cpuBetween(before: Map<string, [number, number]>, after: Map<string, [number, number]>): number {
  let s = 0;
  for (const [k, [u, y]] of after) {
    const [u0, y0] = before.get(k) ?? [0, 0];
    s += Math.max(0, u + y - u0 - y0);
  }
  return s;
}

function printThreadTimes(before: Map<string, [number, number]>, after: Map<string, [number, number]>, seconds: number): void {
  const all = [...after].map(([k, [u, s]]) => {
    const [u0, s0] = before.get(k) ?? [0, 0];
    return { k, user: u - u0, sys: s - s0 };
  });
  const total = all.reduce((s, r) => s + r.user + r.sys, 0);
  const sys = all.reduce((s, r) => s + r.sys, 0);
  console.log(`    CPU during the download: ${total.toFixed(2)} s (${sys.toFixed(2)} s system) in ${seconds.toFixed(2)} s (${(total / seconds).toFixed(2)} cores); threads above 0.05 s:`);
  const rows = all.filter((r) => r.user + r.sys >= 0.05).sort((a, b) => b.user + b.sys - (a.user + a.sys));
  for (const r of rows) console.log(`      ${(r.user + r.sys).toFixed(2).padStart(6)} s (${r.sys.toFixed(2)} system)  ${r.k}`);
}

/** One browser download of the link: open the page, click, wait for the file, check it. */
async function browserRun(browser: Browser, url: string, want: string, profile?: string): Promise<Run> {
  const ctx = await browser.newContext({ acceptDownloads: true });
  try {
    const page = await ctx.newPage();
    await page.goto(url);
    await page.getByTestId('file-view').waitFor({ timeout: 60_000 });
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('Performance.enable');
    if (profile) {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
      await cdp.send('Profiler.start');
    }
    let peak = await heapUsed(cdp);
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await heapUsed(cdp));
        await new Promise((res) => setTimeout(res, 100));
      }
    })();
    const cpu0 = threadTimes();
    const busy0 = machineBusy();
    const t0 = performance.now();
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 600_000 }), page.click('[data-testid=download]')]);
    const saved = await dl.path();
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = threadTimes();
    const ours = cpuBetween(cpu0, cpu1) / seconds;
    const others = Math.max(0, (machineBusy() - busy0) / seconds - ours);
    if (threads) printThreadTimes(cpu0, cpu1, seconds);
    sampling = false;
    await sampler;
    if (profile) {
      const { profile: p } = (await cdp.send('Profiler.stop')) as { profile: unknown };
      writeFileSync(profile, JSON.stringify(p));
    }
    const failure = await dl.failure();
    if (failure !== null) throw new Error(`the download failed: ${failure}`);
    const got = await sha256File(saved);
    if (got !== want) throw new Error(`the downloaded file's SHA-256 is ${got}, want ${want}`);
    await dl.delete();
    return { seconds, peakHeap: peak, ours, others };
  } finally {
    await ctx.close();
  }
}

/** One `coffer get URL LOCAL`, timed as a whole process. */
async function cliRun(bin: string, url: string, dir: string, want: string): Promise<Run> {
  const out = join(dir, 'cli-download');
  rmSync(out, { force: true });
  const cpu0 = threadTimes();
  const cli0 = exitedChildren();
  const busy0 = machineBusy();
  const t0 = performance.now();
  // No account and no config: a fresh config folder per run.
  mustOK(cli(bin, { COFFER_CONFIG_DIR: mkdtempSync(join(dir, 'cfg-')) }, 'get', '--quiet', url, out), 'coffer get URL');
  const seconds = (performance.now() - t0) / 1000;
  const ours = (cpuBetween(cpu0, threadTimes()) + exitedChildren() - cli0) / seconds;
  const others = Math.max(0, (machineBusy() - busy0) / seconds - ours);
  const got = await sha256File(out);
  if (got !== want) throw new Error(`coffer get wrote a file whose SHA-256 is ${got}, want ${want}`);
  rmSync(out);
  return { seconds, ours, others };
}

function report(what: string, rs: Run[]): void {
  for (const [i, r] of rs.entries()) {
    const heap = r.peakHeap === undefined ? '' : `, peak JS heap ${(r.peakHeap / MiB).toFixed(1)} MiB`;
    const cpu = r.ours === undefined ? '' : `; CPU: ours ${r.ours.toFixed(2)} cores, other processes ${r.others!.toFixed(2)}`;
    console.log(`  ${what} run ${i + 1}: ${r.seconds.toFixed(2)} s, ${rate(r.seconds)}${heap}${cpu}`);
    if ((r.others ?? 0) > 0.2) console.log(`    (other processes used ${r.others!.toFixed(2)} cores during this run: its figure is skewed)`);
  }
  const m = median(rs.map((r) => r.seconds));
  const heaps = rs.map((r) => r.peakHeap).filter((h): h is number => h !== undefined);
  const heap = heaps.length ? `, peak JS heap median ${(median(heaps) / MiB).toFixed(1)} MiB (max ${(Math.max(...heaps) / MiB).toFixed(1)})` : '';
  console.log(`${what}: median ${m.toFixed(2)} s, ${rate(m)}${heap}`);
}

async function main(): Promise<void> {
  const bin = cofferBinary();
  const dir = mkdtempSync(join(tmpdir(), 'coffer-bench-web-'));
  const srv = await startServer(bin);
  let browser: Browser | undefined;
  try {
    const owner = { COFFER_SERVER: srv.url, COFFER_USER: 'bench', COFFER_PASSWORD: 'browser bench pw', COFFER_CONFIG_DIR: join(dir, '.owner') };
    mustOK(cli(bin, owner, 'signup'), 'signup');
    const file = join(dir, `bench-${sizeMiB}MiB.bin`);
    const want = writeRandomFile(file);
    mustOK(cli(bin, owner, 'put', '--quiet', file, '/'), 'put');
    rmSync(file);
    const url = mustOK(cli(bin, owner, 'link', 'create', `/bench-${sizeMiB}MiB.bin`), 'link create').stdout.trim();

    browser = await launchChromium();
    console.log(`browser download of a ${sizeMiB} MiB file through a public link`);
    console.log(`  Chromium ${browser.version()}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, warm-up ${warm ? 'on' : 'off'}`);
    const b: Run[] = [];
    for (let i = 0; i < runs; i++) {
      warmUp(dir);
      b.push(await browserRun(browser, url, want, i === 0 ? profilePath : undefined));
    }
    report('chromium', b);
    if (withCLI) {
      const c: Run[] = [];
      for (let i = 0; i < runs; i++) {
        warmUp(dir);
        c.push(await cliRun(bin, url, dir, want));
      }
      report('coffer get', c);
    }
  } finally {
    await browser?.close();
    await srv.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
