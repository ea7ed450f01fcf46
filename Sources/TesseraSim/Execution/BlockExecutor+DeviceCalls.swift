import Synchronization

/// What a launch's threads printed (`printf`) and asserted, gathered while it runs and handed to its
/// context when it ends, so output reaches the program in launch order at synchronisation points.
final class DeviceOutput: Sendable {
    struct State {
        var printf: [UInt8] = []
        var asserts: [UInt8] = []
        /// Once a record does not fit, later ones are dropped too, as when CUDA's FIFO fills.
        var full = false
    }
    let state = Mutex(State())
    /// Bytes of printf output this launch may add (the context's FIFO size less what is still pending).
    let capacity: Int

    init(capacity: Int) { self.capacity = max(0, capacity) }

    func appendPrintf(_ bytes: [UInt8]) {
        state.withLock { s in
            if s.full || s.printf.count + bytes.count > capacity { s.full = true; return }
            s.printf += bytes
        }
    }

    func appendAssert(_ bytes: [UInt8]) {
        state.withLock { $0.asserts += bytes }
    }
}

extension BlockExecutor {
    /// Bytes of lane `lane`'s local memory at `offset` (call-site `.param` slots live there).
    @inline(__always)
    func localValue(_ offset: Int32, _ lane: Int, _ w: Int, bytes: Int) -> UInt64 {
        let p = local + (w * 32 + lane) * localPerThread + Int(offset)
        return bytes == 8 ? p.loadUnaligned(as: UInt64.self) : UInt64(p.loadUnaligned(as: UInt32.self))
    }

    /// A NUL-terminated string at a device (generic) address, or nil if it runs outside memory.
    func deviceString(_ address: UInt64, _ lane: Int, _ w: Int, _ ins: Inst) -> [UInt8]? {
        var out: [UInt8] = []
        var a = address
        while out.count < DevicePrintf.maxStringBytes {
            guard let p = translate(.generic, a, 1, lane, w, write: false, ins) else { return nil }
            let b = p.load(as: UInt8.self)
            if b == 0 { return out }
            out.append(b)
            a &+= 1
        }
        return out
    }

    /// `call vprintf, (format, args)`: formats each active lane's call on the host, in lane order.
    func devicePrintf(_ ins: Inst, _ m: UInt32, _ w: Int, _ output: DeviceOutput?) {
        let vs = program!.vectorSlots
        let formatSlot = vs[Int(ins.e)], argsSlot = vs[Int(ins.e) + 1], returnSlot = vs[Int(ins.e) + 2]
        forLanes(m) { l in
            guard fault == nil else { return }
            let formatAddress = localValue(formatSlot, l, w, bytes: 8)
            let argsAddress = localValue(argsSlot, l, w, bytes: 8)
            guard let format = deviceString(formatAddress, l, w, ins) else { return }
            let (text, count) = DevicePrintf.format(format, argument: { offset, size in
                guard let p = translate(.generic, argsAddress &+ UInt64(offset), size, l, w, write: false, ins) else { return nil }
                return size == 8 ? p.loadUnaligned(as: UInt64.self) : UInt64(p.loadUnaligned(as: UInt32.self))
            }, string: { deviceString($0, l, w, ins) })
            // A bad argument pointer is the kernel's fault, as on hardware; the record is not printed.
            guard fault == nil else { return }
            output?.appendPrintf(text)
            if returnSlot >= 0 {
                (local + (w * 32 + l) * localPerThread + Int(returnSlot)).storeBytes(of: Int32(count), as: Int32.self)
            }
        }
    }

    /// `call __assertfail, (message, file, line, function, charSize)`: CUDA's message for each active lane,
    /// then the launch fails with a sticky assertion error.
    func deviceAssert(_ ins: Inst, _ m: UInt32, _ w: Int, _ output: DeviceOutput?) {
        let vs = program!.vectorSlots
        let base = Int(ins.e)
        forLanes(m) { l in
            let message = deviceString(localValue(vs[base], l, w, bytes: 8), l, w, ins) ?? []
            let file = deviceString(localValue(vs[base + 1], l, w, bytes: 8), l, w, ins) ?? []
            let line = UInt32(truncatingIfNeeded: localValue(vs[base + 2], l, w, bytes: 4))
            let function = deviceString(localValue(vs[base + 3], l, w, bytes: 8), l, w, ins) ?? []
            let t = w * 32 + l
            let bx = Int(block.x), by = Int(block.y)
            output?.appendAssert(DevicePrintf.assertMessage(
                message: message, file: file, line: line, function: function,
                block: blockIndex, thread: (t % bx, (t / bx) % by, t / (bx * by))))
        }
        let text = deviceString(localValue(vs[base], m.trailingZeroBitCount, w, bytes: 8), m.trailingZeroBitCount, w, ins) ?? []
        fault = SimError(.assertFailed, "device-side assert triggered: `\(String(decoding: text, as: UTF8.self))` failed in kernel \(program!.name) (\(describe(lane: m.trailingZeroBitCount, warp: w)))")
    }
}
