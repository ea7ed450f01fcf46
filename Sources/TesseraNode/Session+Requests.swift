#if canImport(Glibc)
import Glibc
#endif
import TesseraWire

extension Session {
    /// How a request ended.
    enum Outcome {
        /// Succeeded; the scratch writer holds the reply's fields. `device` is the vGPU it touched, if any.
        case done(device: Int?)
        case failed(DeviceError, device: Int?)
        /// The request wrote its own reply frames (bulk data split across frames).
        case answered
    }

    @inline(__always)
    private func attempt(_ device: Int?, _ body: () throws(DeviceError) -> Void) -> Outcome {
        do throws(DeviceError) {
            try body()
            return .done(device: device)
        } catch {
            return .failed(error, device: device)
        }
    }

    private func context(_ device: Int) throws(DeviceError) -> any DeviceContext {
        vgpus[try slot(device)].context
    }

    /// The index in ``vgpus`` of the program's device `device` (requests name the program's device index; this
    /// session serves devices deviceBase…deviceBase+vgpus.count−1).
    func slot(_ device: Int) throws(DeviceError) -> Int {
        let i = device - deviceBase
        guard i >= 0, i < vgpus.count else {
            throw DeviceError(.invalidDevice, "device \(device) is not one of this session's vGPUs (\(deviceBase)…\(deviceBase + vgpus.count - 1))")
        }
        return i
    }

    /// A stream of `device`: handle 0 is the device's legacy default stream.
    private func stream(_ handle: UInt64, on device: Int) throws(DeviceError) -> any DeviceStream {
        let ctx = try context(device)
        if handle == 0 { return ctx.defaultStream }
        guard let s = streams[handle], s.device == device else {
            throw DeviceError(.invalidHandle, "stream 0x\(String(handle, radix: 16)) is not a stream of device \(device) in this session")
        }
        return s.stream
    }

    private func event(_ handle: UInt64) throws(DeviceError) -> (device: Int, event: any DeviceEvent) {
        guard let e = events[handle] else { throw DeviceError(.invalidHandle, "event 0x\(String(handle, radix: 16)) is not an event of this session") }
        return e
    }

    private func region(_ id: UInt64, offset: Int, count: Int) throws(DeviceError) -> UnsafeMutableRawPointer {
        guard let r = regions[id] else { throw DeviceError(.invalidValue, "host region \(id) is not registered") }
        return try r.pointer(offset: offset, count: count)
    }

    private func makeHandle() -> UInt64 {
        defer { nextHandle += 1 }
        return nextHandle
    }

    private func bounceBuffer() -> UnsafeMutableRawPointer {
        if let b = bounce { return b }
        let b = UnsafeMutableRawPointer.allocate(byteCount: WireProtocol.maxInlineChunk, alignment: 64)
        bounce = b
        return b
    }

    /// Decodes and runs one request of the serving phase.
    func perform(_ header: FrameHeader, _ r: inout WireReader) throws(WireError) -> Outcome {
        let sync = header.flags.contains(.replyExpected)
        switch header.opcode {
        case .registerHostMemory:
            let m = try RegisterHostMemory(from: &r)
            guard sharesMemory else { throw WireError(.unexpected, "host memory can be shared over a local unix socket only") }
            guard !receivedFDs.isEmpty else { throw WireError(.malformed, "registerHostMemory without a file descriptor") }
            let fd = receivedFDs.removeFirst()
            return attempt(nil) { () throws(DeviceError) in
                guard regions[m.region] == nil else { close(fd); throw DeviceError(.invalidValue, "host region \(m.region) already registered") }
                var region = try HostRegion.map(fd: fd, size: m.size, keepFile: node.backend.mapsHostMemoryFromFile)
                if m.address != 0 { region.deviceAddress = mapIntoDevices(region, at: m.address) ? m.address : 0 }
                if region.deviceAddress == 0, region.file >= 0, !shareWithDevices(region) { region.closeFile() }
                regions[m.region] = region
                RegisterHostMemoryReply(mapped: region.deviceAddress != 0).encode(into: &scratch)
            }

        case .unregisterHostMemory:
            let m = try UnregisterHostMemory(from: &r)
            return attempt(nil) { () throws(DeviceError) in
                guard let region = regions.removeValue(forKey: m.region) else {
                    throw DeviceError(.invalidValue, "host region \(m.region) is not registered")
                }
                // Queued copies may still read or write it.
                for v in vgpus { try? v.context.synchronize() }
                if region.deviceAddress != 0 {
                    for v in vgpus { v.context.unmapHostMemory(at: region.deviceAddress) }
                } else if region.file >= 0 {
                    for v in vgpus { v.context.unshareHostMemory(region.shared) }
                }
                region.unmap()
            }

        case .allocate:
            let m = try Allocate(from: &r)
            return attempt(m.device) { () throws(DeviceError) in
                let i = try slot(m.device)
                let address = try node.allocateMakingRoom(self, context: vgpus[i].context, gpu: vgpus[i].physical, size: m.size)
                AddressReply(address: address).encode(into: &scratch)
            }

        case .free:
            let m = try Free(from: &r)
            return attempt(m.device) { () throws(DeviceError) in try context(m.device).free(m.address) }

        case .memoryInfo:
            let m = try MemoryInfo(from: &r)
            return attempt(m.device) { () throws(DeviceError) in
                let info = try context(m.device).memoryInfo
                MemoryInfoReply(free: info.free, total: info.total).encode(into: &scratch)
            }

        case .copyToDevice:
            let m = try CopyToDevice(from: &r)
            var inline: UnsafeRawBufferPointer?
            if case .inline = m.source {
                let data = r.rest()
                guard data.count == m.count else {
                    throw WireError(.malformed, "copy announces \(m.count) bytes but carries \(data.count)")
                }
                inline = data
            }
            return attempt(m.device) { () throws(DeviceError) in
                let ctx = try context(m.device)
                let s = try stream(m.stream, on: m.device)
                guard m.count > 0 else { return }
                switch m.source {
                case .inline:
                    // The frame's bytes live only until the next read: finish the copy first.
                    try ctx.copyToDevice(m.destination, from: inline!.baseAddress!, count: m.count, on: s)
                    try ctx.synchronize(s)
                case let .region(id, offset):
                    try ctx.copyToDevice(m.destination, from: try region(id, offset: offset, count: m.count), count: m.count, on: s)
                    if sync { try ctx.synchronize(s) }
                }
            }

        case .copyFromDevice:
            let m = try CopyFromDevice(from: &r)
            switch m.destination {
            case let .region(id, offset):
                return attempt(m.device) { () throws(DeviceError) in
                    let ctx = try context(m.device)
                    let s = try stream(m.stream, on: m.device)
                    guard m.count > 0 else { return }
                    try ctx.copyFromDevice(m.source, to: try region(id, offset: offset, count: m.count), count: m.count, on: s)
                    if sync { try ctx.synchronize(s) }
                }
            case .inline:
                guard sync else { throw WireError(.malformed, "a device-to-host copy with inline data must expect a reply") }
                try r.expectEnd()
                copyOut(header.requestID, m)
                return .answered
            }

        case .copyOnDevice:
            let m = try CopyOnDevice(from: &r)
            return attempt(m.device) { () throws(DeviceError) in
                let ctx = try context(m.device)
                let s = try stream(m.stream, on: m.device)
                try ctx.copyOnDevice(m.destination, from: m.source, count: m.count, on: s)
                if sync { try ctx.synchronize(s) }
            }

        case .copy2D:
            let m = try Copy2D(from: &r)
            var inline: UnsafeRawBufferPointer?
            if m.direction == .hostToDevice, case .inline = m.host {
                let data = r.rest()
                guard data.count == m.width * m.height else {
                    throw WireError(.malformed, "2D copy announces \(m.width)×\(m.height) bytes but carries \(data.count)")
                }
                inline = data
            }
            if m.direction == .deviceToHost, case .inline = m.host {
                guard sync else { throw WireError(.malformed, "a device-to-host copy with inline data must expect a reply") }
            }
            return attempt(m.device) { () throws(DeviceError) in try copy2D(m, inline: inline, sync: sync) }

        case .memset:
            let m = try Memset(from: &r)
            return attempt(m.device) { () throws(DeviceError) in
                let ctx = try context(m.device)
                let s = try stream(m.stream, on: m.device)
                try ctx.memset(m.destination, value: m.value, count: m.count, on: s)
                if sync { try ctx.synchronize(s) }
            }

        case .memset2D:
            let m = try Memset2D(from: &r)
            return attempt(m.device) { () throws(DeviceError) in
                let ctx = try context(m.device)
                let s = try stream(m.stream, on: m.device)
                guard m.pitch >= m.width else { throw DeviceError(.invalidValue, "pitch \(m.pitch) is smaller than width \(m.width)") }
                for row in 0..<m.height {
                    try ctx.memset(m.destination &+ UInt64(row * m.pitch), value: m.value, count: m.width, on: s)
                }
                if sync { try ctx.synchronize(s) }
            }

        case .virtualMemory:
            let m = try VirtualMemoryRequest(from: &r)
            return attempt(m.device) { () throws(DeviceError) in
                let value = try context(m.device).virtualMemory(m.operation)
                VirtualMemoryReply(value: value).encode(into: &scratch)
            }

        case .createStream:
            let m = try CreateStream(from: &r)
            return attempt(m.device) { () throws(DeviceError) in
                let ctx = try context(m.device)
                guard m.flags & ~1 == 0 else { throw DeviceError(.invalidValue, "unknown stream flags \(m.flags)") }
                let handle = makeHandle()
                streams[handle] = (m.device, ctx.makeStream(nonBlocking: m.flags & 1 != 0, priority: Int(m.priority)))
                HandleReply(handle: handle).encode(into: &scratch)
            }

        case .destroyStream:
            let m = try DestroyStream(from: &r)
            return attempt(nil) { () throws(DeviceError) in
                guard let s = streams.removeValue(forKey: m.handle) else {
                    throw DeviceError(.invalidHandle, "stream 0x\(String(m.handle, radix: 16)) is not a stream of this session")
                }
                try context(s.device).destroyStream(s.stream)
            }

        case .synchronizeStream:
            let m = try SynchronizeStream(from: &r)
            return attempt(m.device) { () throws(DeviceError) in
                try context(m.device).synchronize(try stream(m.stream, on: m.device))
            }

        case .queryStream:
            let m = try QueryStream(from: &r)
            return attempt(m.device) { () throws(DeviceError) in
                if !(try stream(m.stream, on: m.device)).isIdle { throw DeviceError(.notReady, "stream has queued work") }
            }

        case .streamWaitEvent:
            let m = try StreamWaitEvent(from: &r)
            return attempt(m.device) { () throws(DeviceError) in
                try context(m.device).wait(try stream(m.stream, on: m.device), for: try event(m.event).event)
            }

        case .createEvent:
            let m = try CreateEvent(from: &r)
            return attempt(m.device) { () throws(DeviceError) in
                let ctx = try context(m.device)
                let handle = makeHandle()
                events[handle] = (m.device, ctx.makeEvent(timingDisabled: m.flags & 2 != 0))
                HandleReply(handle: handle).encode(into: &scratch)
            }

        case .destroyEvent:
            let m = try DestroyEvent(from: &r)
            return attempt(nil) { () throws(DeviceError) in
                guard events.removeValue(forKey: m.handle) != nil else {
                    throw DeviceError(.invalidHandle, "event 0x\(String(m.handle, radix: 16)) is not an event of this session")
                }
            }

        case .recordEvent:
            let m = try RecordEvent(from: &r)
            return attempt(m.device) { () throws(DeviceError) in
                try context(m.device).record(try event(m.event).event, on: try stream(m.stream, on: m.device))
            }

        case .synchronizeEvent:
            let m = try SynchronizeEvent(from: &r)
            var device: Int?
            return attempt(nil) { () throws(DeviceError) in
                let e = try event(m.handle)
                device = e.device
                e.event.synchronize()
                if let sticky = try context(e.device).stickyError { throw sticky }
            }.withDevice(device)

        case .queryEvent:
            let m = try QueryEvent(from: &r)
            return attempt(nil) { () throws(DeviceError) in
                if !(try event(m.handle)).event.isComplete { throw DeviceError(.notReady, "event not reached yet") }
            }

        case .eventElapsedTime:
            let m = try EventElapsedTime(from: &r)
            return attempt(nil) { () throws(DeviceError) in
                let a = try event(m.start), b = try event(m.end)
                let ms = try context(a.device).elapsedMilliseconds(from: a.event, to: b.event)
                ElapsedTimeReply(milliseconds: ms).encode(into: &scratch)
            }

        case .synchronizeDevice:
            let m = try SynchronizeDevice(from: &r)
            return attempt(m.device) { () throws(DeviceError) in try context(m.device).synchronize() }

        case .resetDevice:
            let m = try ResetDevice(from: &r)
            return attempt(nil) { () throws(DeviceError) in try reset(device: m.device) }

        case .loadModule:
            let m = try LoadModule(from: &r)
            let image = r.rest()
            return attempt(m.device) { () throws(DeviceError) in
                let module = try context(m.device).loadModule(image: image)
                let handle = makeHandle()
                modules[handle] = (m.device, module)
                LoadModuleReply(module: handle, kernels: module.kernels.map(\.info), variables: module.variables).encode(into: &scratch)
            }

        case .launchKernel:
            let m = try LaunchKernel(from: &r)
            let parameters = [UInt8](r.rest())
            return attempt(m.device) { () throws(DeviceError) in
                guard let module = modules[m.module], module.device == m.device else {
                    throw DeviceError(.invalidHandle, "module \(m.module) is not loaded on device \(m.device)")
                }
                guard m.kernel >= 0, m.kernel < module.module.kernels.count else {
                    throw DeviceError(.invalidValue, "module \(m.module) has no kernel \(m.kernel)")
                }
                try context(m.device).launch(module.module.kernels[m.kernel], grid: m.grid, block: m.block,
                                             sharedMemoryBytes: m.sharedMemoryBytes, parameters: parameters,
                                             cooperative: m.cooperative, on: try stream(m.stream, on: m.device))
            }

        case .setLimit:
            let m = try SetLimit(from: &r)
            return attempt(m.device) { () throws(DeviceError) in try context(m.device).setLimit(m.limit, value: m.value) }

        case .hello, .nodeStatus, .pageOutSessions, .reply, .fatal, .deviceOutput, .evictAllocation, .restoreAllocation:
            throw WireError(.unexpected, "\(header.opcode) is not a request of the serving phase")
        }
    }

    /// A synchronous device → host copy whose data travels in the reply, split into frames of at most one
    /// bounce buffer each. Every frame starts with a reply header, so a failure part-way ends the reply.
    private func copyOut(_ requestID: UInt64, _ m: CopyFromDevice) {
        var done = 0
        repeat {
            let chunk = min(m.count - done, WireProtocol.maxInlineChunk)
            var status = ReplyStatus.ok
            do throws(DeviceError) {
                let ctx = try context(m.device)
                let s = try stream(m.stream, on: m.device)
                if chunk > 0 {
                    try ctx.copyFromDevice(m.source &+ UInt64(done), to: bounceBuffer(), count: chunk, on: s)
                }
                try ctx.synchronize(s)
            } catch {
                status = error.status
            }
            let last = !status.isOK || done + chunk == m.count
            let deferred = pending ?? .ok
            pending = nil
            let data = UnsafeRawBufferPointer(start: bounce, count: status.isOK ? chunk : 0)
            forwardDeviceOutput()
            out.frame(.reply, flags: last ? [] : .moreFollows, requestID: requestID) { w in
                ReplyHeader(status: status, deferred: deferred).encode(into: &w)
                if data.count > 0 { w.raw(data) }
            }
            if !last { try? flush() }
            done += chunk
            if last { break }
        } while true
    }

    private func copy2D(_ m: Copy2D, inline: UnsafeRawBufferPointer?, sync: Bool) throws(DeviceError) {
        let ctx = try context(m.device)
        let s = try stream(m.stream, on: m.device)
        guard m.width >= 0, m.height >= 0 else { throw DeviceError(.invalidValue, "negative extent") }
        if m.width == 0 || m.height == 0 { return }
        switch m.direction {
        case .deviceToDevice:
            try ctx.copy2DOnDevice(m.destination, pitch: m.destinationPitch, from: m.source, pitch: m.sourcePitch,
                                   width: m.width, height: m.height, on: s)
            if sync { try ctx.synchronize(s) }
        case .hostToDevice:
            guard m.destinationPitch >= m.width else { throw DeviceError(.invalidValue, "destination pitch is smaller than width") }
            let (host, hostPitch): (UnsafeRawPointer, Int)
            switch m.host {
            case .inline: (host, hostPitch) = (inline!.baseAddress!, m.width)
            case let .region(id, offset):
                guard m.sourcePitch >= m.width else { throw DeviceError(.invalidValue, "source pitch is smaller than width") }
                host = UnsafeRawPointer(try region(id, offset: offset, count: m.sourcePitch * (m.height - 1) + m.width))
                hostPitch = m.sourcePitch
            }
            for row in 0..<m.height {
                try ctx.copyToDevice(m.destination &+ UInt64(row * m.destinationPitch), from: host + row * hostPitch, count: m.width, on: s)
            }
            if sync || inline != nil { try ctx.synchronize(s) }
        case .deviceToHost:
            guard m.sourcePitch >= m.width else { throw DeviceError(.invalidValue, "source pitch is smaller than width") }
            switch m.host {
            case .inline:
                let total = m.width * m.height
                guard total <= WireProtocol.maxInlineChunk else { throw DeviceError(.invalidValue, "2D copy too large for one reply") }
                let buffer = bounceBuffer()
                for row in 0..<m.height {
                    try ctx.copyFromDevice(m.source &+ UInt64(row * m.sourcePitch), to: buffer + row * m.width, count: m.width, on: s)
                }
                try ctx.synchronize(s)
                scratch.raw(UnsafeRawBufferPointer(start: buffer, count: total))
            case let .region(id, offset):
                guard m.destinationPitch >= m.width else { throw DeviceError(.invalidValue, "destination pitch is smaller than width") }
                let host = try region(id, offset: offset, count: m.destinationPitch * (m.height - 1) + m.width)
                for row in 0..<m.height {
                    try ctx.copyFromDevice(m.source &+ UInt64(row * m.sourcePitch), to: host + row * m.destinationPitch, count: m.width, on: s)
                }
                if sync { try ctx.synchronize(s) }
            }
        }
    }

    /// `cudaDeviceReset`: a fresh context with the same quota; the device's streams, events and modules go away.
    private func reset(device: Int) throws(DeviceError) {
        let i = try slot(device)
        // Context destruction is a synchronisation point: what its kernels printed is delivered first.
        try? vgpus[i].context.synchronize()
        forwardDeviceOutput(of: vgpus[i].context)
        vgpus[i].context.destroy()
        let fresh = try node.backend.makeContext(gpu: vgpus[i].physical, memoryLimit: vgpus[i].memory,
                                                 computePercent: vgpus[i].compute, computeMode: vgpus[i].mode, addressWindow: addressWindow)
        vgpus[i].context = fresh
        for r in regions.values {
            if r.deviceAddress != 0 {
                try? fresh.mapHostMemory(r.shared, at: r.deviceAddress)
            } else if r.file >= 0 {
                try? fresh.shareHostMemory(r.shared)
            }
        }
        streams = streams.filter { $0.value.device != device }
        events = events.filter { $0.value.device != device }
        modules = modules.filter { $0.value.device != device }
        replaceSharedContext(device: i, with: fresh)
    }
}

extension Session.Outcome {
    /// The same outcome attributed to `device` (for requests whose device is known only after lookup).
    func withDevice(_ device: Int?) -> Session.Outcome {
        switch self {
        case .done: .done(device: device)
        case .failed(let e, _): .failed(e, device: device)
        case .answered: .answered
        }
    }
}

extension Session {
    /// Maps a shared host region into every vGPU of the session at the program's address of it (mapped,
    /// zero-copy host memory). All or none: a device that cannot map it leaves the region copy-only.
    func mapIntoDevices(_ region: HostRegion, at address: UInt64) -> Bool {
        var done: [any DeviceContext] = []
        for v in vgpus {
            do throws(DeviceError) {
                try v.context.mapHostMemory(region.shared, at: address)
                done.append(v.context)
            } catch {
                for c in done { c.unmapHostMemory(at: address) }
                return false
            }
        }
        return true
    }

    /// Shares a region with every vGPU's driver so copies between the devices and it need not carry its bytes
    /// (backends that map host memory from its file). Best effort, per device: one that cannot share it copies
    /// the bytes through its link. Whether any device took it (else the node need not keep the file open).
    func shareWithDevices(_ region: HostRegion) -> Bool {
        var shared = false
        for v in vgpus where (try? v.context.shareHostMemory(region.shared)) != nil { shared = true }
        return shared
    }
}
