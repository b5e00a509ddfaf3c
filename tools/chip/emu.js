'use strict';
// The emulated RP2040 of the charger's test bench: MicroPython's real rp2 port,
// built with the firmware frozen in, runs in rp2040js with a cycle-counted
// clock (125 MHz). tools/chip/host.py starts this process and plays the EV.
//
//   node emu.js --bootrom ROM --image firmware.bin --flash DATA/flash.bin
//               --args '{"csms": ...}' [--flash-timing typical|none]
//
// What this file adds to rp2040js, and why:
// - a model of the flash chip's commands (the emulator ignores erase and
//   program), so that littlefs formats, keeps its files across runs of the same
//   --flash file, and can be cut in the middle of a page program or an erase;
// - UART0 as the network: a byte stream carrying a small multiplex protocol
//   (framing below) that the frozen `socket` module of the emulator image
//   speaks, bridged here to TCP connections on the host, and the console;
// - UART1 as the board's RS-485 bus (GP8/GP9, driver enable on GP10), whose
//   requests go to the host and whose answers come back as the meters'
//   bytes on the line;
// - a PL011 model for both UARTs: FIFOs, trigger levels, the receive timeout and
//   the baud rate's byte time (rp2040js raises the transmit interrupt forever
//   and drops bytes fed faster than the firmware drains them);
// - the pilot circuit at ADC0: each conversion reads the voltage the pilot has
//   at that instant, from the PWM pin's level and the plateaus the EV shows;
// - the contactor, its feedback contact, the S0 meter and the residual-current
//   monitor on the board's GPIOs;
// - time: emulated time never runs ahead of the host's clock.
//
// Talking to host.py: commands arrive as JSON lines on stdin; events leave as
// JSON lines on file descriptor 3 (--events-fd); the console (frames of the
// network bridge) goes to stdout as is.

const fs = require('fs');
const net = require('net');
const { RP2040, ConsoleLogger, LogLevel } = require('rp2040js');

const NS_PER_CYCLE = 8;             // 125 MHz
const FLASH_BYTES = 2 * 1024 * 1024; // the Pico's W25Q16
const RESET_EXIT = 3;               // as tools/sim.py: "restart me on the same flash"
const CUT_EXIT = 137;               // as a process killed by SIGKILL

// -- arguments ------------------------------------------------------------------
function parseArgs(argv) {
  const a = { flashTiming: 'typical', fsBase: FLASH_BYTES - 1408 * 1024, eventsFd: 3 };
  for (let i = 2; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    const v = argv[i + 1];
    if (k === 'bootrom') a.bootrom = v;
    else if (k === 'image') a.image = v;
    else if (k === 'flash') a.flash = v;
    else if (k === 'args') a.args = v;
    else if (k === 'flash-timing') a.flashTiming = v;
    else if (k === 'fs-base') a.fsBase = parseInt(v, 0);
    else if (k === 'events-fd') a.eventsFd = parseInt(v, 10);
    else throw new Error('unknown option --' + k);
  }
  if (!a.bootrom || !a.image || !a.flash) {
    throw new Error('usage: emu.js --bootrom ROM --image firmware.bin --flash FILE [--args JSON]');
  }
  return a;
}

const opt = parseArgs(process.argv);
const events = fs.createWriteStream(null, { fd: opt.eventsFd });
// The host's own channel to the firmware is not part of the charger's network:
// a link that goes down leaves it up.
const hostPort = JSON.parse(opt.args || '{}').control || 0;

function emit(obj) {
  events.write(JSON.stringify(obj) + '\n');
}

// -- the chip -------------------------------------------------------------------
const mcu = new RP2040();
mcu.logger = new ConsoleLogger(LogLevel.Error);
mcu.loadBootrom(readBootrom(opt.bootrom));
const clock = mcu.clock;

function readBootrom(path) {
  const b = fs.readFileSync(path);
  return new Uint32Array(b.buffer, b.byteOffset, b.length >> 2);
}

function nowMs() {
  return clock.nanos / 1e6;
}

// Firmware first, then the filesystem region as the last run left it.
mcu.flash.set(fs.readFileSync(opt.image), 0);
if (fs.existsSync(opt.flash)) {
  const saved = fs.readFileSync(opt.flash);
  if (saved.length === FLASH_BYTES - opt.fsBase) {
    mcu.flash.set(saved, opt.fsBase);
  }
}

function saveFlash() {
  const tmp = opt.flash + '.tmp';
  fs.writeFileSync(tmp, mcu.flash.subarray(opt.fsBase, FLASH_BYTES));
  fs.renameSync(tmp, opt.flash);
}

// -- the flash chip -------------------------------------------------------------
// The boot ROM and the SDK talk to the flash through the SSI in direct mode,
// framing each command with the chip select forced through IO_QSPI. Each byte
// written to the SSI's data register shifts one byte back. Typical times of the
// W25Q16JV datasheet: sector erase 45 ms, page program 0.4 ms; while busy, the
// status register says so and the firmware polls it with interrupts disabled.
const TIMING = opt.flashTiming === 'none'
  ? { erase4k: 0, erase32k: 0, erase64k: 0, page: 0 }
  : { erase4k: 45e6, erase32k: 120e6, erase64k: 150e6, page: 0.4e6 };
const flashChip = {
  cmd: [],          // bytes of the command in progress
  wel: false,       // write enable latch
  busyUntil: 0,     // ns
  pendingErase: null,
  selected: false,
  progAddr: -1,
  erases: 0,        // sector or block erases so far, for the flash-wear figures
  pages: 0,         // page programs so far
  uniqueId: [0xe6, 0x61, 0x38, 0x97, 0x23, 0x52, 0x4c, 0x2b],
};
const eraseAlarm = clock.createAlarm(() => finishErase(1));

// What the flash costs the chip, for the benchmark: erases and programmed bytes,
// and the longest stretch the core ran with its interrupts masked (MicroPython
// masks them for every flash erase and program: nothing but the PIO runs then).
const flashStats = { erases: 0, programs: 0, bytes: 0, irqOffMaxMs: 0 };

function finishErase(fraction) {
  const e = flashChip.pendingErase;
  if (!e) return;
  flashChip.pendingErase = null;
  mcu.flash.fill(0xff, e.addr, e.addr + Math.floor(e.size * fraction));
}

function flashSelect(on) {
  if (on === flashChip.selected) return;
  flashChip.selected = on;
  if (on) {
    flashChip.cmd = [];
    flashChip.progAddr = -1;
    return;
  }
  // Deselect ends a command: erases start here.
  const c = flashChip.cmd;
  if (process.env.EMU_FLASH_DEBUG) process.stderr.write('flash cmd ' + c.slice(0, 6).map((x) => x.toString(16)).join(' ') + ' len ' + c.length + ' forced ' + csForced + '\n');
  if (!c.length) return;
  const op = c[0];
  if ((op === 0x20 || op === 0x52 || op === 0xd8) && c.length >= 4 && flashChip.wel) {
    const size = op === 0x20 ? 4096 : op === 0x52 ? 32768 : 65536;
    const addr = ((c[1] << 16) | (c[2] << 8) | c[3]) & ~(size - 1) & (FLASH_BYTES - 1);
    const t = op === 0x20 ? TIMING.erase4k : op === 0x52 ? TIMING.erase32k : TIMING.erase64k;
    flashChip.pendingErase = { addr, size };
    flashStats.erases++;
    flashChip.erases++;
    flashChip.busyUntil = clock.nanos + t;
    if (t) eraseAlarm.schedule(t);
    else finishErase(1);
    flashChip.wel = false;
  } else if (op === 0x02 && flashChip.wel) {
    flashChip.pages++;
    flashChip.busyUntil = clock.nanos + TIMING.page;
    flashStats.programs++;
    flashStats.bytes += Math.max(0, c.length - 4);
    flashChip.wel = false;
  } else if (op === 0x06) {
    flashChip.wel = true;
  } else if (op === 0x04) {
    flashChip.wel = false;
  }
}

function flashShift(byte) {
  // One byte out on the SPI, one byte back.
  if (!flashChip.selected) return 0xff;
  const c = flashChip.cmd;
  const i = c.length;
  c.push(byte);
  const op = c[0];
  if (i === 0) return 0xff;
  switch (op) {
    case 0x05: // read status register 1: busy, write enable latch
      return (clock.nanos < flashChip.busyUntil ? 1 : 0) | (flashChip.wel ? 2 : 0);
    case 0x35: // status register 2: quad enable set, as the Pico's boot2 leaves it
      return 0x02;
    case 0x9f: // JEDEC id: Winbond W25Q16JV
      return [0xef, 0x40, 0x15][i - 1] ?? 0xff;
    case 0x4b: // unique id after four dummy bytes
      return i >= 5 ? flashChip.uniqueId[(i - 5) & 7] : 0xff;
    case 0x03: // read data
    case 0x0b: { // fast read (one dummy byte)
      const skip = op === 0x0b ? 5 : 4;
      if (i < skip) return 0xff;
      const addr = ((c[1] << 16) | (c[2] << 8) | c[3]) + (i - skip);
      return mcu.flash[addr & (FLASH_BYTES - 1)];
    }
    case 0x02: { // page program: bits only go from 1 to 0, the address wraps in its page
      if (i < 4 || !flashChip.wel) return 0xff;
      if (flashChip.progAddr < 0) flashChip.progAddr = (c[1] << 16) | (c[2] << 8) | c[3];
      const base = flashChip.progAddr & ~0xff;
      const addr = (base | ((flashChip.progAddr + (i - 4)) & 0xff)) & (FLASH_BYTES - 1);
      mcu.flash[addr] &= byte;
      return 0xff;
    }
    default:
      return 0xff;
  }
}

// SSI: only what direct-mode commands need; XIP reads go straight to the
// flash array in rp2040js.
const ssi = mcu.peripherals[0x18000];
const ssiRx = [];
const baseSsiRead = ssi.readUint32.bind(ssi);
const baseSsiWrite = ssi.writeUint32.bind(ssi);
// Without a forced chip select (boot2), the SSI frames a command itself: a
// write after the answers of the previous one were read starts a new one.
let csForced = false;
let lastWasRead = true;
ssi.readUint32 = (offset) => {
  switch (offset) {
    case 0x20: return 0;                       // TXFLR: sent at once
    case 0x24: return ssiRx.length;            // RXFLR
    case 0x28: return 0x6 | (ssiRx.length ? 0x8 : 0); // SR: TFNF, TFE, RFNE
    case 0x60:
      lastWasRead = true;
      return ssiRx.length ? ssiRx.shift() : 0;
    default: return baseSsiRead(offset);
  }
};
ssi.writeUint32 = (offset, value) => {
  if (offset === 0x60) {
    if (!csForced && lastWasRead && !ssiRx.length) {
      flashSelect(false);
      flashSelect(true);
    }
    lastWasRead = false;
    ssiRx.push(flashShift(value & 0xff));
    if (ssiRx.length > 64) ssiRx.shift();
    return;
  }
  if (offset === 0x08 && !(value & 1)) {
    ssiRx.length = 0;                          // disabling the SSI empties its FIFOs
    lastWasRead = true;
  }
  baseSsiWrite(offset, value);
};

// IO_QSPI: registers kept so that read-modify-write works; the chip select's
// output override (GPIO_QSPI_SS_CTRL bits 8-9: 2 = low, 3 = high) frames
// flash commands.
const BasePeripheral = Object.getPrototypeOf(ssi.constructor);
class IoQspi extends BasePeripheral {
  constructor() {
    super(mcu, 'IO_QSPI');
    this.regs = new Uint32Array(16);
  }
  readUint32(offset) {
    return offset < 0x40 ? this.regs[offset >> 2] : 0;
  }
  writeUint32(offset, value) {
    if (offset >= 0x40) return;
    this.regs[offset >> 2] = value;
    if (offset === 0x0c) {
      const over = (value >> 8) & 3;
      csForced = over === 2 || over === 3;
      flashSelect(over === 2);
      lastWasRead = true;
    }
  }
}
mcu.peripherals[0x40018] = new IoQspi();

// -- UARTs: the network and console (UART0), the RS-485 bus (UART1) ------------------
// A PL011 as far as the MicroPython driver can tell: 32-byte FIFOs, trigger
// levels from IFLS, the receive timeout (32 bit periods), and one character
// (start, data, parity and stop bits of LCR_H) per character time at the
// programmed baud rate in both directions. accept(byte), when given, says
// whether a byte on the line reaches the receiver (RS-485: not while the
// transceiver drives the line).
const UART_BASE_CLASS = mcu.uart[1].constructor;
class Pl011 extends UART_BASE_CLASS {
  constructor(index, onTx, accept) {
    // IRQ 20 + index; DREQ: UART0 TX 20, RX 21, UART1 TX 22, RX 23.
    super(mcu, 'UART' + index, 20 + index, { rx: 21 + 2 * index, tx: 20 + 2 * index });
    this.onTx = onTx;
    this.accept = accept || null;
    this.txStartNs = 0;         // when the byte being sent left the FIFO
    this.txFifo = [];
    this.rxFifo = [];
    this.ifls = 0x12;
    this.ris = 0;
    this.pending = [];          // bytes from the host not yet on the wire
    this.txAlarm = clock.createAlarm(() => this.txDone());
    this.rxAlarm = clock.createAlarm(() => this.rxArrive());
    this.rtAlarm = clock.createAlarm(() => { if (this.rxFifo.length) { this.ris |= 1 << 6; this.update(); } });
    this.rxBusy = false;
  }
  byteNs() {
    const baud = this.baudRate || 115200;
    const lcr = this.lineCtrlRegister;
    const bits = 1 + this.wordLength + (lcr & 2 ? 1 : 0) + (lcr & 8 ? 2 : 1);
    return Math.max(100, Math.round(bits * 1e9 / baud));
  }
  txLevel() { return [4, 8, 16, 24, 28][this.ifls & 7] ?? 16; }
  rxLevel() { return [4, 8, 16, 24, 28][(this.ifls >> 3) & 7] ?? 16; }
  update() {
    mcu.setInterrupt(this.irq, !!(this.ris & this.interruptMask));
  }
  txDone() {
    const before = this.txFifo.length;
    const b = this.txFifo.shift();
    this.onTx(b, this.txStartNs);
    if (before > this.txLevel() && this.txFifo.length <= this.txLevel()) {
      this.ris |= 1 << 5;
      this.update();
    }
    if (this.txFifo.length) this.txNext();
  }
  txNext() {
    this.txStartNs = clock.nanos;
    this.txAlarm.schedule(this.byteNs());
  }
  // Host side: queue bytes for the wire; then() runs when the last of them is
  // in the receive FIFO.
  send(bytes, then) {
    for (const b of bytes) this.pending.push(b);
    if (then) this.pending.push(then);
    this.kick();
  }
  kick() {
    if (!this.rxBusy && this.pending.length && this.rxFifo.length < 32) {
      this.rxBusy = true;
      this.rxAlarm.schedule(this.byteNs());
    }
  }
  rxArrive() {
    this.rxBusy = false;
    if (this.rxFifo.length >= 32) return;  // held back, as with flow control
    const b = this.pending.shift();
    if (!this.accept || this.accept(b)) this.rxFifo.push(b);
    while (typeof this.pending[0] === 'function') this.pending.shift()();
    if (this.rxFifo.length >= this.rxLevel()) this.ris |= 1 << 4;
    this.rtAlarm.schedule(this.byteNs() * 32 / 10);
    this.update();
    this.kick();
  }
  get flags() {
    return (this.rxFifo.length >= 32 ? 1 << 6 : 0) | (this.rxFifo.length ? 0 : 1 << 4) |
      (this.txFifo.length >= 32 ? 1 << 5 : 0) | (this.txFifo.length ? 1 << 3 : 1 << 7);
  }
  checkInterrupts() {
    this.update();
  }
  feedByte(value) {
    this.send([value]);
  }
  readUint32(offset) {
    switch (offset) {
      case 0x00: {
        const v = this.rxFifo.length ? this.rxFifo.shift() : 0;
        if (this.rxFifo.length < this.rxLevel()) this.ris &= ~(1 << 4);
        if (!this.rxFifo.length) this.ris &= ~(1 << 6);
        this.update();
        this.kick();
        return v;
      }
      case 0x18: return this.flags;
      case 0x34: return this.ifls;
      case 0x3c: return this.ris;
      case 0x40: return this.ris & this.interruptMask;
      default: return super.readUint32(offset);
    }
  }
  writeUint32(offset, value) {
    switch (offset) {
      case 0x00:
        if (this.txFifo.length < 32) {
          this.txFifo.push(value & 0xff);
          if (this.txFifo.length > this.txLevel()) this.ris &= ~(1 << 5);
          if (this.txFifo.length === 1) this.txNext();
          this.update();
        }
        return;
      case 0x34:
        this.ifls = value & 0x3f;
        return;
      case 0x38:
        this.interruptMask = value & 0x7ff;
        this.update();
        return;
      case 0x44:
        this.ris &= ~value;
        this.update();
        return;
      default:
        super.writeUint32(offset, value);
    }
  }
}

// The multiplex protocol on the wire: frames of
//   type (1 byte) | channel (1) | length (2, big-endian) | payload
// chip -> host: H hello (the host answers A with the start arguments as JSON),
//               C connect ("host:port"), W want (2 bytes: how much the chip can
//               take now), D data, X close, T console output
// host -> chip: A arguments, K connected, E failed (a reason), D data (never
//               more than wanted), X closed by the peer (after its last data),
//               T console input
// The chip asks before it is sent anything, so it never has to hold data that
// no reader wants, and one stalled connection cannot block another.
const channels = new Map();
let linkUp = true;
let rxState = { hdr: [], need: 0, type: 0, chan: 0, body: null };

function frame(type, chan, payload, then) {
  const p = payload || Buffer.alloc(0);
  const out = Buffer.alloc(4 + p.length);
  out[0] = type.charCodeAt(0);
  out[1] = chan;
  out.writeUInt16BE(p.length, 2);
  p.copy(out, 4);
  wire.send(out, then);
}

// Turnarounds for the benchmark: per connection, from the last byte the host
// handed in (in the chip's receive FIFO) to the end of the chip's first data
// frame after it: "last byte in, answer out" for a request and its answer.
function turnIn(ch, n) {
  ch.inBytes += n;
  return () => { ch.lastInNs = clock.nanos; };
}

function turnOut(ch) {
  if (!ch.inBytes) return;
  emit({ ev: 'turn', port: ch.port, in: ch.inBytes, ms: (clock.nanos - ch.lastInNs) / 1e6 });
  ch.inBytes = 0;
}

function onWireByte(b) {
  const s = rxState;
  if (s.body === null) {
    s.hdr.push(b);
    if (s.hdr.length < 4) return;
    s.type = String.fromCharCode(s.hdr[0]);
    s.chan = s.hdr[1];
    s.need = (s.hdr[2] << 8) | s.hdr[3];
    s.hdr = [];
    s.body = [];
    if (s.need) return;
  } else {
    s.body.push(b);
    if (s.body.length < s.need) return;
  }
  const body = Buffer.from(s.body);
  s.body = null;
  onFrame(s.type, s.chan, body);
}

function onFrame(type, chan, body) {
  switch (type) {
    case 'H':
      frame('A', 0, Buffer.from(opt.args || '{}'));
      emit({ ev: 'hello', ms: nowMs() });
      return;
    case 'C': return openChannel(chan, body.toString());
    case 'T':
      for (const b of body) consoleByte(b);
      return;
    case 'W': {
      const ch = channels.get(chan);
      if (ch) { ch.want = body.readUInt16BE(0); deliver(ch); }
      return;
    }
    case 'D': {
      const ch = channels.get(chan);
      if (ch && ch.sock && !ch.closed) {
        turnOut(ch);
        ch.sock.write(body);
      }
      return;
    }
    case 'X': {
      const ch = channels.get(chan);
      if (ch) { ch.closed = true; if (ch.sock) ch.sock.destroy(); channels.delete(chan); }
      return;
    }
    default:
      emit({ ev: 'error', what: 'unknown frame type ' + JSON.stringify(type) });
  }
}

function openChannel(chan, addr) {
  const old = channels.get(chan);
  if (old && old.sock) old.sock.destroy();
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i);
  const port = parseInt(addr.slice(i + 1), 10);
  const ch = {
    chan, port, queue: [], queued: 0, want: 0, ended: false, closed: false, sock: null,
    inBytes: 0, lastInNs: 0,
  };
  channels.set(chan, ch);
  if (!linkUp && port !== hostPort) {
    channels.delete(chan);
    frame('E', chan, Buffer.from('network unreachable'));
    return;
  }
  const sock = net.connect({ host, port });
  ch.sock = sock;
  sock.setNoDelay(true);
  sock.on('connect', () => { if (!ch.closed) frame('K', chan); });
  sock.on('data', (d) => {
    ch.queue.push(d);
    ch.queued += d.length;
    if (ch.queued > 65536) sock.pause();
    deliver(ch);
  });
  sock.on('end', () => { ch.ended = true; deliver(ch); });
  sock.on('error', (e) => {
    if (ch.closed) return;
    if (sock.connecting || !sock.remoteAddress) {
      channels.delete(chan);
      ch.closed = true;
      frame('E', chan, Buffer.from(e.code || 'error'));
    } else {
      ch.ended = true;
      deliver(ch);
    }
  });
  sock.on('close', () => { ch.ended = true; deliver(ch); });
}

function deliver(ch) {
  if (ch.closed || !ch.want) return;
  if (ch.queued) {
    const out = [];
    let n = 0;
    while (ch.queue.length && n < ch.want) {
      const head = ch.queue[0];
      const k = Math.min(head.length, ch.want - n);
      out.push(head.subarray(0, k));
      if (k === head.length) ch.queue.shift();
      else ch.queue[0] = head.subarray(k);
      n += k;
    }
    ch.queued -= n;
    ch.want = 0;
    if (ch.sock && ch.queued < 16384) ch.sock.resume();
    frame('D', ch.chan, Buffer.concat(out), turnIn(ch, n));
    return;
  }
  if (ch.ended) {
    ch.want = 0;
    ch.closed = true;
    channels.delete(ch.chan);
    frame('X', ch.chan);
  }
}

function setLink(up) {
  linkUp = up;
  if (up) return;
  // A dropped link: every connection ends now, with what was still queued.
  for (const ch of [...channels.values()]) {
    if (ch.port === hostPort) continue;
    if (ch.sock) ch.sock.destroy();
    ch.queue = [];
    ch.queued = 0;
    ch.closed = true;
    channels.delete(ch.chan);
    frame('X', ch.chan);
  }
}

const wire = new Pl011(0, onWireByte);
mcu.uart[0] = wire;
mcu.peripherals[0x40034] = wire;

// The console: the emulator image's main.py puts the REPL on the bridge's T
// frames (os.dupterm), because rp2040js's USB CDC host keeps the USB interrupt
// firing tens of thousands of times a second, which would eat the core the
// figures measure, and UART1 is the RS-485 bus.
const consoleOut = [];
function consoleByte(b) {
  consoleOut.push(b);
  if (b === 10 || consoleOut.length >= 256) {
    if (stalls && consoleOut[0] === 5) return stallSeen(consoleOut.splice(0));
    flushConsole();
  }
}
function flushConsole() {
  if (consoleOut.length) process.stdout.write(Buffer.from(consoleOut.splice(0)));
}

// -- the RS-485 bus: UART1 (GP8 TX, GP9 RX), DE and /RE tied on GP10 ----------------
// A byte is on the pair only if the driver was enabled for the whole of it;
// one sent with DE low is lost (counted). While DE is high the receiver is off,
// so an answer byte that arrives then is lost too (counted): both show a
// driver-enable timing the firmware got wrong. A request ends at 3.5 character
// times of silence (1.75 ms above 19200 baud), as a meter sees it; the host
// answers as the meters (the `mb` event and command), and the answer goes on
// the line no sooner than MB_TURN_NS after the request's end.
const DE_PIN = 10;
const MB_TURN_NS = 2e6;     // a meter's own turnaround, as boards/sim/mbsim.py has it
const bus = { de: false, deSince: 0, req: [], endNs: 0, answer: null,
  frames: 0, deLow: 0, lost: 0 };
const busGap = clock.createAlarm(() => busRequest());
const busAnswer = clock.createAlarm(() => busSend());

function busGapNs() {
  return (rs485.baudRate || 9600) > 19200 ? 1.75e6 : 3.5 * rs485.byteNs();
}

function onBusByte(b, startNs) {
  if (!bus.de || bus.deSince > startNs) {
    bus.deLow++;
    emit({ ev: 'mb_err', kind: 'de_low', ms: nowMs() });
    return;
  }
  bus.req.push(b);
  busGap.schedule(busGapNs());
}

function busRequest() {
  const req = Buffer.from(bus.req.splice(0));
  bus.frames++;
  bus.endNs = clock.nanos - busGapNs();
  emit({ ev: 'mb', req: req.toString('hex'), ms: nowMs() });
}

function busReply(hex) {
  if (!hex) return;
  bus.answer = Buffer.from(hex, 'hex');
  const wait = bus.endNs + MB_TURN_NS - clock.nanos;
  if (wait > 0) busAnswer.schedule(wait);
  else busSend();
}

function busSend() {
  if (bus.answer) rs485.send(bus.answer);
  bus.answer = null;
}

const rs485 = new Pl011(1, onBusByte, () => {
  if (!bus.de) return true;
  bus.lost++;
  emit({ ev: 'mb_err', kind: 'rx_while_de', ms: nowMs() });
  return false;
});
mcu.uart[1] = rs485;
mcu.peripherals[0x40038] = rs485;
mcu.gpio[DE_PIN].addListener(() => {
  const v = gpioOut(DE_PIN);
  if (v === bus.de) return;
  bus.de = v;
  if (v) bus.deSince = clock.nanos;
});

// -- the board: pins of boards/rp2040/board.py ------------------------------------
const PIN = { cp_out: 16, contactor: 17, fb: 18, s0: 19, rcd: 20, rcd_test: 21, lock: 22, cmp: 14 };
const board = {
  pilotHi: 12000,     // pilot mV while the PWM pin is high (the EV's state)
  pilotLo: -12000,    // ... and while it is low
  weld: false,
  rcd: false,
  hazard: null,       // { kind, ns } while a hazard waits for the contactor to open
  contactor: false,
  pulsesDue: 0,
  duty: -1,
  lock: false,
};

function gpioOut(n) {
  return mcu.gpio[n].outputValue;
}

function setIn(n, v) {
  if (mcu.gpio[n].rawInputValue !== v) mcu.gpio[n].setInputValue(v);
}

function refreshInputs() {
  // Feedback: the auxiliary contact closes (pulls low) with the contactor, or
  // stays closed when welded. The monitor trips on a fault or on its test input.
  setIn(PIN.fb, !(board.contactor || board.weld));
  setIn(PIN.rcd, board.rcd || gpioOut(PIN.rcd_test));
}

setIn(PIN.s0, true);
refreshInputs();

mcu.gpio[PIN.contactor].addListener(() => {
  const v = gpioOut(PIN.contactor);
  if (v === board.contactor) return;
  board.contactor = v;
  refreshInputs();
  emit({ ev: 'contactor', v, ms: nowMs() });
  if (!v && board.hazard) {
    emit({ ev: 'reaction', kind: board.hazard.kind, ms: (clock.nanos - board.hazard.ns) / 1e6 });
    board.hazard = null;
  }
});
mcu.gpio[PIN.rcd_test].addListener(refreshInputs);

// The pilot comparator (board option cp_comparator): high while the pilot is
// above +7.5 V, that is in the PWM's high phase in states A and B. It follows
// every edge of the PWM pin and every change of the EV's plateaus.
const CMP_MV = 7500;
function refreshCmp() {
  setIn(PIN.cmp, (gpioOut(PIN.cp_out) ? board.pilotHi : board.pilotLo) > CMP_MV);
}
mcu.gpio[PIN.cp_out].addListener(refreshCmp);
mcu.gpio[PIN.lock].addListener(() => {
  const v = gpioOut(PIN.lock);
  if (v !== board.lock) { board.lock = v; emit({ ev: 'lock', v }); }
});

// Pilot at ADC0 (GP26): pilot mV = (ADC mV - 1650) x 10 (boards/rp2040 defaults),
// so the ADC sees 1650 + pilot / 10 mV. A little noise, as a real divider has.
let noise = 12345;
function adcCode(mv) {
  noise = (noise * 1103515245 + 12345) & 0x7fffffff;
  const adcMv = 1650 + mv / 10;
  const code = Math.round(adcMv * 4095 / 3300) + ((noise >> 16) % 5) - 2;
  return Math.max(0, Math.min(4095, code));
}
const adc = mcu.adc;
const adcAlarm = clock.createAlarm(() => {
  const ch = adc.currentChannel;
  let v = 0;
  if (ch === 0) v = adcCode(gpioOut(PIN.cp_out) ? board.pilotHi : board.pilotLo);
  else if (ch === 4) v = 876;  // temperature sensor: about 27 C
  adc.completeADCRead(v, false);
});
adc.onADCRead = (ch) => {
  adc.currentChannel = ch;
  adcAlarm.schedule(adc.sampleTime * 1000);
};

// The duty the EV reads from the pilot: slice 0, channel A drives GP16.
function dutyPm() {
  const pin = mcu.gpio[PIN.cp_out];
  if (pin.functionSelect !== 4) return pin.outputValue ? 1000 : 0;
  const ch = mcu.pwm.channels[0];
  if (!(ch.csr & 1)) return 0;
  const top = ch.top + 1;
  const cc = ch.cc & 0xffff;
  return Math.max(0, Math.min(1000, Math.round(cc * 1000 / top)));
}

// S0 pulses: 30 ms low, at least 30 ms high (IEC 62053-31).
const s0Alarm = clock.createAlarm(() => s0Step());
let s0Low = false;
function s0Step() {
  if (s0Low) {
    s0Low = false;
    setIn(PIN.s0, true);
    if (board.pulsesDue) s0Alarm.schedule(30e6);
    return;
  }
  if (!board.pulsesDue) return;
  board.pulsesDue--;
  s0Low = true;
  setIn(PIN.s0, false);
  s0Alarm.schedule(30e6);
}

// Every millisecond of emulated time: report a changed duty; every 100 ms the time.
let ticks = 0;
let busyNs = 0;               // emulated time spent executing, not waiting
let lastBusy = 0;
const msAlarm = clock.createAlarm(() => {
  msAlarm.schedule(1e6);
  const d = dutyPm();
  if (d !== board.duty) {
    board.duty = d;
    emit({ ev: 'duty', pm: d, ms: nowMs() });
  }
  if (++ticks % 100 === 0) {
    // The time and how busy the core was over the last 100 ms (0..1).
    // busy_ms: the core's executing time so far, for shares over longer spans.
    emit({ ev: 't', ms: nowMs(), busy: Math.round((busyNs - lastBusy) / 1e6) / 100, host: Math.round(hostNs() / 1e6),
      busy_ms: Math.round(busyNs / 1e6),
      flash: flashStats, erases: flashChip.erases, pages: flashChip.pages });
    lastBusy = busyNs;
  }
});
msAlarm.schedule(1e6);

// -- console and life cycle ------------------------------------------------------


let stopping = null;         // 'cut', 'reset' or 'stop'
let cutAfter = 0;            // instructions still to run before the power goes

mcu.peripherals[0x40058].onWatchdogTrigger = () => finish('reset');

function finish(how) {
  if (how === 'cut' && flashChip.pendingErase) {
    // The power went during an erase: part of the sector is erased.
    finishErase(Math.random());
  }
  saveFlash();
  flushConsole();
  emit({ ev: how, ms: nowMs() });
  events.end(() => process.exit(how === 'reset' ? RESET_EXIT : how === 'cut' ? CUT_EXIT : 0));
  stopping = 'done';
}

function command(c) {
  if (c.pilot) {
    board.pilotHi = c.pilot[0];
    board.pilotLo = c.pilot[1];
    refreshCmp();
  }
  if (c.rcd !== undefined) {
    board.rcd = !!c.rcd;
    refreshInputs();
  }
  if (c.weld !== undefined) {
    board.weld = !!c.weld;
    refreshInputs();
  }
  if (c.hazard && board.contactor && !board.hazard) board.hazard = { kind: c.hazard, ns: clock.nanos };
  if (c.pulses) {
    const idle = !board.pulsesDue && !s0Low;
    board.pulsesDue += c.pulses;
    if (idle) s0Step();
  }
  if (c.net !== undefined) setLink(!!c.net);
  if (c.console) frame('T', 0, Buffer.from(c.console));
  if (c.mb !== undefined) busReply(c.mb);
  if (c.cut) {
    // Somewhere in the next 2 ms of work: mid-instruction sequence, maybe mid-write.
    stopping = 'cut';
    cutAfter = Math.floor(Math.random() * 250000);
  }
  if (c.stop) stopping = 'stop';
}

let inbuf = '';
process.stdin.on('data', (d) => {
  inbuf += d.toString();
  let i;
  while ((i = inbuf.indexOf('\n')) >= 0) {
    const line = inbuf.slice(0, i);
    inbuf = inbuf.slice(i + 1);
    if (line.trim()) command(JSON.parse(line));
  }
});
process.stdin.on('end', () => { if (!stopping) stopping = 'stop'; });

// -- PIO ------------------------------------------------------------------------
// rp2040js runs the PIO from host timers, 1000 instructions a turn, whatever
// the core does, ignores the clock dividers and steps disabled state machines
// too. Here each enabled state machine runs in step with the core's clock
// instead, one instruction every CLKDIV system cycles (8 ns each), and an
// instruction's delay cycles after it: the interlock at 10 MHz reacts within
// a microsecond of emulated time, and a program that counts time (the RS-485
// driver enable at 1 MHz, the comparator's settling) takes as long as on the
// chip. A machine blocked on its FIFO costs nothing until it moves.
const pios = mcu.pio;
for (const p of pios) p.run = () => {};
const smNext = [new Float64Array(4), new Float64Array(4)];   // ns of each machine's next step
function pioActive() {
  return !pios[0].stopped || !pios[1].stopped;
}
function smPeriodNs(m) {
  return ((m.clockDivInt || 65536) + m.clockDivFrac / 256) * NS_PER_CYCLE;
}
function pioCatchUp() {
  const now = clock.nanos;
  for (let p = 0; p < 2; p++) {
    const pio = pios[p];
    if (pio.stopped) continue;
    const next = smNext[p];
    for (let i = 0; i < 4; i++) {
      const m = pio.machines[i];
      if (!m.enabled) continue;
      const per = smPeriodNs(m);
      let t = next[i];
      if (t < now - 1e7) t = now - 1e7;   // at most 10 ms behind (a machine just enabled)
      while (t <= now) {
        const c0 = m.cycles;
        m.step();
        if (m.waiting) {        // blocked (pull, wait): nothing to catch up
          t = now + per;
          break;
        }
        t += per * Math.max(1, m.cycles - c0);   // with the instruction's delay
      }
      next[i] = t;
    }
    pio.checkChangedPins();
  }
}

// -- running ---------------------------------------------------------------------
// Emulated time follows the host's clock from below: when the chip idles
// (WFE/WFI) the clock jumps to the next timer event, but never past the host.
const t0 = process.hrtime.bigint();
function hostNs() {
  return Number(process.hrtime.bigint() - t0);
}

let irqOffSince = 0;
// EMU_PROFILE=file: where the core spends its time, one program counter every
// 64 instructions, written at exit as [pc, count] pairs (tools/chip/profile.py
// names them from the image's ELF).
const profile = process.env.EMU_PROFILE ? new Map() : null;
let profN = 0;
if (profile) {
  process.on('exit', () => fs.writeFileSync(process.env.EMU_PROFILE, JSON.stringify([...profile])));
}

// EMU_STALLS=file: what the core did during each long event-loop stall. The
// probe prints "\x05stall LATE" when it wakes LATE ms late (host.py asks it to
// when this is set); the program counters of the last STALL_RING samples (one
// every 512 instructions, about half a second) that fall into the stall are
// appended to the file as a JSON line (tools/chip/profile.py --stalls names them).
const STALL_RING = 1 << 17;
const stalls = process.env.EMU_STALLS ? { t: new Float64Array(STALL_RING), pc: new Uint32Array(STALL_RING), i: 0, n: 0 } : null;
function stallSeen(bytes) {
  const late = parseInt(Buffer.from(bytes.slice(1)).toString().split(' ')[1], 10);
  const now = clock.nanos;
  const from = now - (late + 10) * 1e6;
  const out = [];
  for (let k = 1; k <= Math.min(stalls.n, STALL_RING); k++) {
    const j = (stalls.i - k + STALL_RING) % STALL_RING;
    if (stalls.t[j] < from) break;
    out.push([Math.round((stalls.t[j] - from) / 1e3) / 1e3, stalls.pc[j]]);
  }
  out.reverse();
  fs.appendFileSync(process.env.EMU_STALLS, JSON.stringify({ ms: nowMs(), late, erases: flashChip.erases, samples: out }) + '\n');
}

function run() {
  if (stopping === 'done') return;
  if (stopping === 'stop') return finish('stop');
  const limit = hostNs();
  const core = mcu.core;
  const p0 = pios[0];
  const p1 = pios[1];
  if (pioActive()) pioCatchUp();      // what the host changed since the last turn
  let n = 0;
  while (clock.nanos < limit && n < 500000) {
    if (core.waiting) {
      const next = clock.nanosToNextAlarm;
      const step = next > 0 ? Math.min(next, limit - clock.nanos) : limit - clock.nanos;
      clock.tick(step);
      if (!p0.stopped || !p1.stopped) pioCatchUp();
      n += 100;
    } else {
      const c = core.executeInstruction() * NS_PER_CYCLE;
      clock.tick(c);
      if (profile && (++profN & 63) === 0) profile.set(core.PC, (profile.get(core.PC) || 0) + 1);
      if (stalls && (++stalls.n & 511) === 0) {
        stalls.t[stalls.i] = clock.nanos;
        stalls.pc[stalls.i] = core.PC;
        stalls.i = (stalls.i + 1) % STALL_RING;
      }
      if (core.PM) {
        if (!irqOffSince) irqOffSince = clock.nanos;
      } else if (irqOffSince) {
        const ms = (clock.nanos - irqOffSince) / 1e6;
        if (ms > flashStats.irqOffMaxMs) flashStats.irqOffMaxMs = Math.round(ms * 1000) / 1000;
        irqOffSince = 0;
      }
      if (!p0.stopped || !p1.stopped) pioCatchUp();
      busyNs += c;
      n++;
      if (stopping === 'cut' && --cutAfter <= 0) return finish('cut');
    }
    if (stopping === 'done') return;
  }
  if (clock.nanos < limit) setImmediate(run);
  else setTimeout(run, 1);
}

if (process.env.EMU_IRQ_DEBUG) {
  const counts = {};
  const entry = mcu.core.exceptionEntry.bind(mcu.core);
  mcu.core.exceptionEntry = (n) => { counts[n] = (counts[n] || 0) + 1; entry(n); };
  setInterval(() => process.stderr.write('irq ' + JSON.stringify(counts) + ' ms ' + nowMs() + '\n'), 2000);
}
mcu.core.PC = 0x10000000;
emit({ ev: 'start', ms: 0 });
run();
