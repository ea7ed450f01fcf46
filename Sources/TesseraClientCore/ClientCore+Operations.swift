#if canImport(Glibc)
import Glibc
#endif
import TesseraWire

private func none(_ r: inout WireReader) throws(WireError) {}

/// The operations both faces offer, on the calling thread's current device unless a stream or pointer names
/// another. Each returns a `cudaError_t`; the faces translate it.
extension ClientCore {
    // MARK: Memory

    /// Allocates `size` bytes on the current device (0 bytes gives address 0).
    package func allocate(_ size: Int, device: Int? = nil) -> (Int32, UInt64) {
        var address: UInt64 = 0
        let e = withDevice(device) { device, link in
            if size == 0 { return 0 }
            let reply = link.call(Allocate(device: device, size: size)) { (r) throws(WireError) in try AddressReply(from: &r) }
            let (e, value) = outcome(reply, device: device, synchronizing: false)
            guard e == 0, let value else { return e }
            allocations[value.address] = (device, size)
            address = value.address
            return 0
        }
        return (e, address)
    }

    /// Frees an allocation (address 0 does nothing).
    package func free(_ address: UInt64) -> Int32 {
        withSession { _ in
            if address == 0 { return 0 }
            let device = allocations[address]?.device ?? ThreadState.current.device
            guard device < devices.count else { return CUDAError.invalidDevice }
            let e = outcome(link(device).call(Free(device: device, address: address), none), device: device, synchronizing: false).0
            if e == 0 { allocations[address] = nil }
            return e
        }
    }

    /// The current device's free and total memory (the vGPU's quota).
    package func memoryInfo() -> (Int32, free: Int, total: Int) {
        var result = (0, 0)
        let e = withDevice(checkSticky: false) { device, link in
            let reply = link.call(MemoryInfo(device: device)) { (r) throws(WireError) in try MemoryInfoReply(from: &r) }
            let (e, value) = outcome(reply, device: device, synchronizing: false)
            guard e == 0, let value else { return e }
            result = (value.free, value.total)
            return 0
        }
        return (e, result.0, result.1)
    }

    /// Page-locked host memory the node can reach directly.
    package func allocateHost(_ size: Int) -> (Int32, UInt) {
        var base: UInt = 0
        let e = withSession { c in
            switch makePinned(c, size: size) {
            case .failure(let f): return f.code
            case .success(let b):
                pinned.append(b)
                base = b.base
                return 0
            }
        }
        return (e, base)
    }

    /// Frees memory from ``allocateHost(_:)``.
    package func freeHost(_ base: UInt) -> Int32 {
        withSession { c in
            if base == 0 { return 0 }
            guard let i = pinned.firstIndex(where: { $0.base == base }) else { return CUDAError.invalidValue }
            let b = pinned.remove(at: i)
            return releasePinned(c, b)
        }
    }

    /// Registers host memory. It stays the program's own: copies from it take the pageable path (correct, if
    /// not zero-copy); the registration is remembered for pointer queries and unregistration. With `deviceMap`
    /// (`CU_MEMHOSTREGISTER_DEVICEMAP`, `cudaHostRegisterMapped`), a range that is a shared mapping of a sealed
    /// memfd is also shared with the home node and mapped into its devices at this address (see
    /// ``mapRegisteredHost(_:size:)``); other memory stays copy-only, as without it.
    /// - Returns: `success`, or `hostMemoryAlreadyRegistered` (712) when the range overlaps a registered one.
    package func registerHost(_ base: UInt, size: Int, deviceMap: Bool = false) -> Int32 {
        lock.withLock {
            for (b, s) in registeredHost where base < b + UInt(s) && b < base + UInt(size) { return CUDAError.hostMemoryAlreadyRegistered }
            registeredHost[base] = size
            if deviceMap { mapRegisteredHost(base, size: size) }
            return 0
        }
    }

    /// - Returns: `success`, `hostMemoryNotRegistered` (713), or the node's error unsharing mapped memory.
    package func unregisterHost(_ base: UInt) -> Int32 {
        lock.withLock {
            guard registeredHost.removeValue(forKey: base) != nil else { return CUDAError.hostMemoryNotRegistered }
            return unmapRegisteredHost(base)
        }
    }

    /// Whether `address` lies in registered host memory.
    package func isRegisteredHost(_ address: UInt) -> Bool {
        lock.withLock { registeredHost.contains { address >= $0.key && address < $0.key + UInt($0.value) } }
    }

    /// Fills `count` bytes with `value` (pipelined on `stream`).
    package func memset(_ address: UInt, value: UInt8, count: Int, stream: UInt) -> Int32 {
        withSession { _ in
            guard let (device, handle) = resolveStream(stream) else { return CUDAError.invalidResourceHandle }
            let target = handle != 0 ? device : deviceOwning(address) ?? device
            guard target < devices.count else { return CUDAError.invalidDevice }
            if sticky(target) != 0 { return sticky(target) }
            if count == 0 { return 0 }
            link(target).post(Memset(device: target, stream: handle, destination: UInt64(address), value: value, count: count))
            return 0
        }
    }

    /// Fills `height` rows of `width` bytes, `pitch` apart (pipelined on `stream`).
    package func memset2D(_ address: UInt, pitch: Int, value: UInt8, width: Int, height: Int, stream: UInt) -> Int32 {
        withSession { _ in
            guard let (device, handle) = resolveStream(stream) else { return CUDAError.invalidResourceHandle }
            let target = handle != 0 ? device : deviceOwning(address) ?? device
            guard target < devices.count else { return CUDAError.invalidDevice }
            guard pitch >= width, width >= 0, height >= 0 else { return CUDAError.invalidValue }
            if sticky(target) != 0 { return sticky(target) }
            if width == 0 || height == 0 { return 0 }
            link(target).post(Memset2D(device: target, stream: handle, destination: UInt64(address), pitch: pitch,
                                       value: value, width: width, height: height))
            return 0
        }
    }

    /// Copies between two devices' memory (through the host; vGPUs have no peer access).
    package func copyPeer(destination: UInt64, destinationDevice: Int, source: UInt64, sourceDevice: Int, count: Int) -> Int32 {
        withSession { _ in
            guard checkDevice(destinationDevice) == 0, checkDevice(sourceDevice) == 0 else { return CUDAError.invalidDevice }
            guard count >= 0 else { return CUDAError.invalidValue }
            if count == 0 { return 0 }
            guard destination != 0, source != 0 else { return CUDAError.invalidValue }
            if destinationDevice == sourceDevice {
                return copy(destination: UInt(destination), source: UInt(source), count: count, kind: CopyKind.deviceToDevice.rawValue,
                            stream: 0, async: false)
            }
            return copyBetweenDevices(to: destinationDevice, destination: destination, from: sourceDevice, source: source, count: count)
        }
    }

    /// Waits for all work of the current device.
    package func synchronizeDevice(_ device: Int? = nil) -> Int32 {
        withDevice(device, checkSticky: false) { device, link in
            outcome(link.call(SynchronizeDevice(device: device), none), device: device, synchronizing: true).0
        }
    }

    // MARK: Streams

    package func createStream(flags: UInt32, priority: Int32) -> (Int32, UInt) {
        var handle: UInt = 0
        let e = withDevice(checkSticky: false) { device, link in
            let reply = link.call(CreateStream(device: device, flags: flags, priority: priority)) { (r) throws(WireError) in try HandleReply(from: &r) }
            let (e, value) = outcome(reply, device: device, synchronizing: false)
            guard e == 0, let value else { return e }
            streams[UInt(value.handle)] = device
            handle = UInt(value.handle)
            return 0
        }
        return (e, handle)
    }

    package func destroyStream(_ stream: UInt) -> Int32 {
        withSession { _ in
            guard let device = streams.removeValue(forKey: stream) else { return CUDAError.invalidResourceHandle }
            link(device).post(DestroyStream(handle: UInt64(stream)))
            return 0
        }
    }

    package func synchronizeStream(_ stream: UInt) -> Int32 {
        withSession { _ in
            guard let (device, handle) = resolveStream(stream) else { return CUDAError.invalidResourceHandle }
            guard device < devices.count else { return CUDAError.invalidDevice }
            return outcome(link(device).call(SynchronizeStream(device: device, stream: handle), none), device: device, synchronizing: true).0
        }
    }

    /// `notReady` while work is pending.
    package func queryStream(_ stream: UInt) -> Int32 {
        withSession { _ in
            guard let (device, handle) = resolveStream(stream) else { return CUDAError.invalidResourceHandle }
            guard device < devices.count else { return CUDAError.invalidDevice }
            return outcome(link(device).call(QueryStream(device: device, stream: handle), none), device: device, synchronizing: false).0
        }
    }

    package func streamWaitEvent(_ stream: UInt, _ event: UInt) -> Int32 {
        withSession { _ in
            guard let (device, handle) = resolveStream(stream) else { return CUDAError.invalidResourceHandle }
            guard device < devices.count, let eventDevice = events[event] else { return CUDAError.invalidResourceHandle }
            if link(eventDevice) !== link(device) {
                // The event is on another node: wait for it here, so the stream's later work starts after it.
                return outcome(link(eventDevice).call(SynchronizeEvent(handle: UInt64(event)), none), device: eventDevice, synchronizing: true).0
            }
            link(device).post(StreamWaitEvent(device: device, stream: handle, event: UInt64(event)))
            return 0
        }
    }

    /// The device a stream belongs to (the current device for the default streams), if the stream is known.
    package func streamDevice(_ stream: UInt) -> Int? {
        lock.withLock { resolveStream(stream)?.device }
    }

    // MARK: Events

    package func createEvent(flags: UInt32) -> (Int32, UInt) {
        var handle: UInt = 0
        let e = withDevice(checkSticky: false) { device, link in
            let reply = link.call(CreateEvent(device: device, flags: flags)) { (r) throws(WireError) in try HandleReply(from: &r) }
            let (e, value) = outcome(reply, device: device, synchronizing: false)
            guard e == 0, let value else { return e }
            events[UInt(value.handle)] = device
            handle = UInt(value.handle)
            return 0
        }
        return (e, handle)
    }

    package func destroyEvent(_ event: UInt) -> Int32 {
        withSession { _ in
            guard let device = events.removeValue(forKey: event) else { return CUDAError.invalidResourceHandle }
            link(device).post(DestroyEvent(handle: UInt64(event)))
            return 0
        }
    }

    package func recordEvent(_ event: UInt, stream: UInt) -> Int32 {
        withSession { _ in
            guard let eventDevice = events[event] else { return CUDAError.invalidResourceHandle }
            guard let (device, handle) = resolveStream(stream) else { return CUDAError.invalidResourceHandle }
            guard device < devices.count else { return CUDAError.invalidDevice }
            // An event lives on its device's node; a stream of a device on another node cannot record it.
            guard link(eventDevice) === link(device) else { return CUDAError.invalidResourceHandle }
            link(device).post(RecordEvent(device: device, event: UInt64(event), stream: handle))
            return 0
        }
    }

    package func synchronizeEvent(_ event: UInt) -> Int32 {
        withSession { _ in
            guard let device = events[event] else { return CUDAError.invalidResourceHandle }
            return outcome(link(device).call(SynchronizeEvent(handle: UInt64(event)), none), device: device, synchronizing: true).0
        }
    }

    /// `notReady` while the recorded work is pending.
    package func queryEvent(_ event: UInt) -> Int32 {
        withSession { _ in
            guard let device = events[event] else { return CUDAError.invalidResourceHandle }
            return outcome(link(device).call(QueryEvent(handle: UInt64(event)), none), device: device, synchronizing: false).0
        }
    }

    package func elapsedTime(_ start: UInt, _ end: UInt) -> (Int32, Float) {
        var ms: Float = 0
        let e = withSession { _ in
            guard let device = events[start], let other = events[end], link(device) === link(other) else { return CUDAError.invalidResourceHandle }
            let reply = link(device).call(EventElapsedTime(start: UInt64(start), end: UInt64(end))) { (r) throws(WireError) in try ElapsedTimeReply(from: &r) }
            let (e, value) = outcome(reply, device: device, synchronizing: false)
            guard e == 0, let value else { return e }
            ms = value.milliseconds
            return 0
        }
        return (e, ms)
    }

    // MARK: Pointers

    /// What the core knows of an address: device memory of a vGPU, pinned host memory, or neither.
    package enum PointerKind {
        case device(Int, base: UInt64, size: Int)
        case host(base: UInt, size: Int)
        case unknown
    }

    package func pointerKind(_ address: UInt) -> PointerKind {
        lock.withLock {
            let a = UInt64(address)
            for (base, v) in allocations where a >= base && a < base + UInt64(max(v.size, 1)) { return .device(v.device, base: base, size: v.size) }
            if let device = deviceOwning(address) { return .device(device, base: a, size: 0) }
            if let b = pinnedBuffer(containing: address, count: 1) { return .host(base: b.base, size: b.size) }
            return .unknown
        }
    }
}

extension ClientCore {
    /// Resets `device` (the current one unless given): frees everything the program had there, clears its
    /// sticky error and forgets the modules loaded there.
    package func resetDevice(_ device: Int? = nil) -> Int32 {
        withDevice(device, checkSticky: false) { device, link in
            let e = outcome(link.call(ResetDevice(device: device)) { (_) throws(WireError) in () }, device: nil, synchronizing: false).0
            if e == 0 {
                stickyErrors[device] = nil
                forgetModules(device: device)
                allocations = allocations.filter { $0.value.device != device }
                streams = streams.filter { $0.value != device }
                events = events.filter { $0.value != device }
            }
            return e
        }
    }

    /// Blocks of `blockSize` threads of a kernel that fit on one multiprocessor of `device` at once.
    package func occupancy(_ info: KernelInfo, device: Int, blockSize: Int, dynamicSharedMemory: Int) -> Int {
        let d = devices[device]
        guard blockSize > 0, blockSize <= min(d.maxThreadsPerBlock, info.maxThreadsPerBlock) else { return 0 }
        let warps = (blockSize + d.warpSize - 1) / d.warpSize
        var limit = min(d.maxBlocksPerMultiprocessor, d.maxThreadsPerMultiprocessor / (warps * d.warpSize))
        let registers = max(1, info.registersPerThread) * warps * d.warpSize
        limit = min(limit, d.registersPerMultiprocessor / registers)
        let shared = info.staticSharedBytes + dynamicSharedMemory
        if shared > 0 { limit = min(limit, d.sharedMemoryPerMultiprocessor / (shared + 1024)) }
        return max(0, limit)
    }
}
