/**
 * Helpers for the ENet tests and bench: compiling and driving the C peer on the real libenet
 * (test/fixtures/enet/peer.c), deterministic payloads, and waiting for host events.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { EnetHost, EnetHostEvents } from '../../src/core/enet/index.js'
import type { Command } from '../../src/core/enet/protocol.js'

export const C_PEER_SOURCE = fileURLToPath(new URL('../fixtures/enet/peer.c', import.meta.url))

/** Compiles peer.c against the system libenet (`cc … -lenet`) into a temp dir; returns the binary path. */
export function compileCPeer(): { bin: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'enet-c-'))
  const bin = join(dir, 'peer')
  try {
    execFileSync('cc', ['-O2', '-Wall', '-o', bin, C_PEER_SOURCE, '-lenet'], { stdio: 'pipe' })
  } catch (err) {
    const e = err as { stderr?: Buffer }
    throw new Error(
      `cannot compile the C ENet peer (needs cc and Debian's libenet-dev): ${e.stderr?.toString() ?? err}`,
    )
  }
  return { bin, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** xorshift32 bytes, identical to fill() in peer.c. */
export function fill(len: number, seed: number): Buffer {
  const b = Buffer.alloc(len)
  let x = (Math.imul(seed, 2654435761) + 1) >>> 0
  for (let i = 0; i < len; i++) {
    x = (x ^ (x << 13)) >>> 0
    x = (x ^ (x >>> 17)) >>> 0
    x = (x ^ (x << 5)) >>> 0
    b[i] = x & 0xff
  }
  return b
}

/** FNV-1a 32, as printed by peer.c. */
export function fnv1a(b: Uint8Array): string {
  let h = 2166136261
  for (const byte of b) h = Math.imul(h ^ byte, 16777619) >>> 0
  return h.toString(16).padStart(8, '0')
}

/** A running C peer: its stdout lines, stdin commands, and event-driven waits. */
export class CPeer {
  readonly child: ChildProcess
  readonly lines: string[] = []
  private buffered = ''
  private waiters: Array<() => void> = []
  readonly exited: Promise<void>

  constructor(bin: string, args: string[]) {
    this.child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'inherit'] })
    this.child.stdout!.setEncoding('utf8')
    this.child.stdout!.on('data', (d: string) => {
      this.buffered += d
      let nl = this.buffered.indexOf('\n')
      while (nl >= 0) {
        this.lines.push(this.buffered.slice(0, nl))
        this.buffered = this.buffered.slice(nl + 1)
        nl = this.buffered.indexOf('\n')
      }
      for (const w of [...this.waiters]) w()
    })
    this.child.stdin!.on('error', () => {})
    this.exited = new Promise((resolve) => this.child.on('close', () => resolve()))
  }

  /** Sends one stdin command. */
  command(line: string): void {
    this.child.stdin!.write(`${line}\n`)
  }

  /** Resolves with the first line (from index `from`) matching `re`. */
  waitFor(re: RegExp, timeoutMs = 30_000, from = 0): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (let i = from; i < this.lines.length; i++) {
          const m = this.lines[i].match(re)
          if (m) {
            done()
            resolve(m)
            return true
          }
        }
        return false
      }
      const timer = setTimeout(() => {
        done()
        reject(
          new Error(`C peer: no line matching ${re} within ${timeoutMs} ms; got:\n${this.lines.join('\n')}`),
        )
      }, timeoutMs)
      const onExit = () => {
        if (!check()) {
          done()
          reject(new Error(`C peer exited before ${re}; got:\n${this.lines.join('\n')}`))
        }
      }
      const done = () => {
        clearTimeout(timer)
        this.waiters = this.waiters.filter((w) => w !== waiter)
        this.child.off('close', onExit)
      }
      const waiter = () => void check()
      if (check()) return
      this.waiters.push(waiter)
      this.child.on('close', onExit)
    })
  }

  /** Lines matching `re` seen so far. */
  matching(re: RegExp): RegExpMatchArray[] {
    return this.lines.map((l) => l.match(re)).filter((m): m is RegExpMatchArray => m !== null)
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.stdin!.end()
      const t = setTimeout(() => this.child.kill('SIGKILL'), 3000)
      await this.exited
      clearTimeout(t)
    }
  }

  async kill9(): Promise<void> {
    this.child.kill('SIGKILL')
    await this.exited
  }
}

/** Resolves with the arguments of the next `event` on `host` (optionally the first satisfying `pred`). */
export function nextEvent<K extends keyof EnetHostEvents>(
  host: EnetHost,
  event: K,
  pred: (...args: EnetHostEvents[K]) => boolean = () => true,
  timeoutMs = 30_000,
): Promise<EnetHostEvents[K]> {
  return new Promise((resolve, reject) => {
    const listener = (...args: EnetHostEvents[K]) => {
      if (!pred(...args)) return
      clearTimeout(timer)
      host.off(event, listener as never)
      resolve(args)
    }
    const timer = setTimeout(() => {
      host.off(event, listener as never)
      reject(new Error(`no '${String(event)}' event within ${timeoutMs} ms`))
    }, timeoutMs)
    host.on(event, listener as never)
  })
}

/** The CONNECT of the fact sheet's worked bytes (allonet-protocol.md §1.3), with `overrides` on top. */
export function connectCommand(overrides: Partial<Extract<Command, { command: 2 }>> = {}): Command {
  return {
    command: 2,
    flags: 0x80,
    channel: 0xff,
    seq: 1,
    outgoingPeerId: 0,
    incomingSessionId: 0xff,
    outgoingSessionId: 0xff,
    mtu: 1400,
    windowSize: 65536,
    channelCount: 6,
    incomingBandwidth: 0,
    outgoingBandwidth: 0,
    throttleInterval: 5000,
    throttleAcceleration: 2,
    throttleDeceleration: 2,
    connectId: 0xbd229516,
    data: 0,
    ...overrides,
  }
}
