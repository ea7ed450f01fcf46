#if canImport(Glibc)
import Glibc
#endif
import TesseraWire

/// `cudaMemcpyKind`.
package enum CopyKind: Int32 {
    case hostToHost = 0, hostToDevice = 1, deviceToHost = 2, deviceToDevice = 3, automatic = 4
}

extension ClientCore {
    /// Resolves `cudaMemcpyDefault` from what the runtime knows of each pointer.
    package func direction(_ kind: Int32, destination: UInt, source: UInt) -> CopyKind? {
        guard let k = CopyKind(rawValue: kind) else { return nil }
        guard k == .automatic else { return k }
        switch (deviceOwning(destination) != nil, deviceOwning(source) != nil) {
        case (false, false): return .hostToHost
        case (true, false): return .hostToDevice
        case (false, true): return .deviceToHost
        case (true, true): return .deviceToDevice
        }
    }

    /// Sends a copy: pipelined when `async`, else one round trip whose reply ends the call.
    private func submit<M: WireMessage>(_ m: M, device: Int, async: Bool) -> Int32 {
        let c = link(device)
        if async {
            c.post(m)
            return 0
        }
        return outcome(c.call(m) { (_: inout WireReader) throws(WireError) in () }, device: device, synchronizing: true).0
    }

    /// The device a copy runs on: the stream's for a created stream, else the device owning the device pointer.
    private func copyDevice(_ stream: UInt, devicePointer: UInt) -> (device: Int, handle: UInt64)? {
        guard let (device, handle) = resolveStream(stream) else { return nil }
        if handle != 0 { return (device, handle) }
        let owner = deviceOwning(devicePointer) ?? device
        return owner < devices.count ? (owner, 0) : nil
    }

    /// One linear copy. `async` copies between device and pinned memory are pipelined; every other copy
    /// completes before returning (CUDA's rule for pageable memory), in one round trip.
    package func copy(destination: UInt, source: UInt, count: Int, kind: Int32, stream: UInt, async: Bool) -> Int32 {
        guard count >= 0 else { return CUDAError.invalidValue }
        guard let direction = direction(kind, destination: destination, source: source) else { return CUDAError.invalidMemcpyDirection }
        if count == 0 { return 0 }
        guard destination != 0, source != 0 else { return CUDAError.invalidValue }
        switch direction {
        case .hostToHost, .automatic:
            memmove(UnsafeMutableRawPointer(bitPattern: destination)!, UnsafeRawPointer(bitPattern: source)!, count)
            return 0
        case .deviceToDevice:
            guard let (device, handle) = copyDevice(stream, devicePointer: destination) else { return CUDAError.invalidResourceHandle }
            if sticky(device) != 0 { return sticky(device) }
            if let from = deviceOwning(source), from != device, let to = deviceOwning(destination) {
                return copyBetweenDevices(to: to, destination: UInt64(destination), from: from, source: UInt64(source), count: count)
            }
            let m = CopyOnDevice(device: device, stream: handle, destination: UInt64(destination), source: UInt64(source), count: count)
            return submit(m, device: device, async: async)
        case .hostToDevice:
            guard let (device, handle) = copyDevice(stream, devicePointer: destination) else { return CUDAError.invalidResourceHandle }
            if sticky(device) != 0 { return sticky(device) }
            return copyToDevice(device, handle, destination: UInt64(destination), from: source, count: count, async: async)
        case .deviceToHost:
            guard let (device, handle) = copyDevice(stream, devicePointer: source) else { return CUDAError.invalidResourceHandle }
            if sticky(device) != 0 { return sticky(device) }
            return copyFromDevice(device, handle, source: UInt64(source), to: destination, count: count, async: async)
        }
    }

    /// Copies between devices of different vGPUs (on one node or on two): through host memory, as a program
    /// without peer access gets it; completes before returning.
    package func copyBetweenDevices(to: Int, destination: UInt64, from: Int, source: UInt64, count: Int) -> Int32 {
        if sticky(from) != 0 { return sticky(from) }
        if sticky(to) != 0 { return sticky(to) }
        guard let buffer = malloc(count) else { return CUDAError.memoryAllocation }
        defer { Glibc.free(buffer) }
        let e = copyFromDevice(from, 0, source: source, to: UInt(bitPattern: buffer), count: count, async: false)
        if e != 0 { return e }
        return copyToDevice(to, 0, destination: destination, from: UInt(bitPattern: buffer), count: count, async: false)
    }

    package func copyToDevice(_ device: Int, _ stream: UInt64, destination: UInt64, from source: UInt, count: Int, async: Bool) -> Int32 {
        let none = { (_: inout WireReader) throws(WireError) in () }
        let c = link(device)
        // Pinned memory the (home) node has mapped: a direct memcpy on its side.
        if isHome(c), let (region, base) = hostRegion(containing: source, count: count) {
            let m = CopyToDevice(device: device, stream: stream, destination: destination, count: count,
                                 source: .region(region, offset: Int(source - base)))
            return submit(m, device: device, async: async)
        }
        // Pageable memory on a local session: through the shared staging area.
        if count <= Self.stagingSize, let staging = stagingBuffer(c), let region = staging.region {
            memcpy(UnsafeMutableRawPointer(bitPattern: staging.base)!, UnsafeRawPointer(bitPattern: source)!, count)
            let m = CopyToDevice(device: device, stream: stream, destination: destination, count: count, source: .region(region, offset: 0))
            return outcome(c.call(m, none), device: device, synchronizing: true).0
        }
        // Otherwise in the frames: every chunk but the last pipelined, the last answered.
        var done = 0
        while true {
            let chunk = min(count - done, WireProtocol.maxInlineChunk)
            let m = CopyToDevice(device: device, stream: stream, destination: destination + UInt64(done), count: chunk, source: .inline)
            let data = UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: source + UInt(done)), count: chunk)
            if done + chunk == count {
                return outcome(c.call(m, payload: data, none), device: device, synchronizing: true).0
            }
            guard c.post(m, payload: data) else { return CUDAError.unknown }
            done += chunk
        }
    }

    package func copyFromDevice(_ device: Int, _ stream: UInt64, source: UInt64, to destination: UInt, count: Int, async: Bool) -> Int32 {
        let none = { (_: inout WireReader) throws(WireError) in () }
        let c = link(device)
        if isHome(c), let (region, base) = hostRegion(containing: destination, count: count) {
            let m = CopyFromDevice(device: device, stream: stream, source: source, count: count,
                                   destination: .region(region, offset: Int(destination - base)))
            return submit(m, device: device, async: async)
        }
        if count <= Self.stagingSize, let staging = stagingBuffer(c), let region = staging.region {
            let m = CopyFromDevice(device: device, stream: stream, source: source, count: count, destination: .region(region, offset: 0))
            let e = outcome(c.call(m, none), device: device, synchronizing: true).0
            if e == 0 { memcpy(UnsafeMutableRawPointer(bitPattern: destination)!, UnsafeRawPointer(bitPattern: staging.base)!, count) }
            return e
        }
        // The data comes back in the reply, in as many frames as it takes.
        var received = 0
        let take = { (r: inout WireReader) throws(WireError) -> Void in
            let data = r.rest()
            guard data.count <= count - received else { throw WireError(.malformed, "reply carries more data than asked for") }
            if data.count > 0 {
                memcpy(UnsafeMutableRawPointer(bitPattern: destination + UInt(received))!, data.baseAddress!, data.count)
            }
            received += data.count
        }
        var reply = c.call(CopyFromDevice(device: device, stream: stream, source: source, count: count, destination: .inline), take)
        let id = c.lastRequestID
        while case let .done(h, _, more) = reply, h.status.isOK, more {
            reply = c.receive(id, take)
        }
        let e = outcome(reply, device: device, synchronizing: true).0
        return e == 0 && received != count ? CUDAError.unknown : e
    }

    /// A 2D copy of `height` rows of `width` bytes.
    package func copy2D(destination: UInt, destinationPitch: Int, source: UInt, sourcePitch: Int, width: Int, height: Int,
                kind: Int32, stream: UInt, async: Bool) -> Int32 {
        guard width >= 0, height >= 0 else { return CUDAError.invalidValue }
        if width == 0 || height == 0 { return 0 }
        guard destinationPitch >= width, sourcePitch >= width else { return CUDAError.invalidPitchValue }
        guard let direction = direction(kind, destination: destination, source: source) else { return CUDAError.invalidMemcpyDirection }
        let none = { (_: inout WireReader) throws(WireError) in () }
        let hostExtent = { (pitch: Int) in pitch * (height - 1) + width }
        switch direction {
        case .hostToHost, .automatic:
            for row in 0..<height {
                memmove(UnsafeMutableRawPointer(bitPattern: destination + UInt(row * destinationPitch))!,
                        UnsafeRawPointer(bitPattern: source + UInt(row * sourcePitch))!, width)
            }
            return 0
        case .deviceToDevice:
            guard let (device, handle) = copyDevice(stream, devicePointer: destination) else { return CUDAError.invalidResourceHandle }
            if let from = deviceOwning(source), from != device {
                // Row by row through the host, like linear copies between vGPUs.
                for row in 0..<height {
                    let e = copy(destination: destination + UInt(row * destinationPitch), source: source + UInt(row * sourcePitch),
                                 count: width, kind: CopyKind.deviceToDevice.rawValue, stream: 0, async: false)
                    if e != 0 { return e }
                }
                return 0
            }
            let m = Copy2D(device: device, stream: handle, direction: .deviceToDevice, destination: UInt64(destination),
                           destinationPitch: destinationPitch, source: UInt64(source), sourcePitch: sourcePitch,
                           width: width, height: height, host: .inline)
            return submit(m, device: device, async: async)
        case .hostToDevice:
            guard let (device, handle) = copyDevice(stream, devicePointer: destination) else { return CUDAError.invalidResourceHandle }
            let c = link(device)
            if isHome(c), let (region, base) = hostRegion(containing: source, count: hostExtent(sourcePitch)) {
                let m = Copy2D(device: device, stream: handle, direction: .hostToDevice, destination: UInt64(destination),
                               destinationPitch: destinationPitch, source: 0, sourcePitch: sourcePitch, width: width, height: height,
                               host: .region(region, offset: Int(source - base)))
                return submit(m, device: device, async: async)
            }
            // Pageable: pack bands of rows and send them in the frames, the last band answered.
            let rowsPerBand = max(1, WireProtocol.maxInlineChunk / width)
            var packed = [UInt8](repeating: 0, count: min(height, rowsPerBand) * width)
            var row = 0
            while row < height {
                let rows = min(rowsPerBand, height - row)
                packed.withUnsafeMutableBytes { p in
                    for i in 0..<rows {
                        memcpy(p.baseAddress! + i * width, UnsafeRawPointer(bitPattern: source + UInt((row + i) * sourcePitch))!, width)
                    }
                }
                let m = Copy2D(device: device, stream: handle, direction: .hostToDevice,
                               destination: UInt64(destination) + UInt64(row * destinationPitch), destinationPitch: destinationPitch,
                               source: 0, sourcePitch: width, width: width, height: rows, host: .inline)
                let last = row + rows == height
                let result: Int32 = packed.withUnsafeBytes { p in
                    let data = UnsafeRawBufferPointer(rebasing: p[0..<rows * width])
                    if last { return outcome(c.call(m, payload: data, none), device: device, synchronizing: true).0 }
                    return c.post(m, payload: data) ? 0 : CUDAError.unknown
                }
                if last || result != 0 { return result }
                row += rows
            }
            return 0
        case .deviceToHost:
            guard let (device, handle) = copyDevice(stream, devicePointer: source) else { return CUDAError.invalidResourceHandle }
            let c = link(device)
            if isHome(c), let (region, base) = hostRegion(containing: destination, count: hostExtent(destinationPitch)) {
                let m = Copy2D(device: device, stream: handle, direction: .deviceToHost, destination: 0,
                               destinationPitch: destinationPitch, source: UInt64(source), sourcePitch: sourcePitch,
                               width: width, height: height, host: .region(region, offset: Int(destination - base)))
                return submit(m, device: device, async: async)
            }
            let rowsPerBand = max(1, WireProtocol.maxInlineChunk / width)
            var row = 0
            while row < height {
                let rows = min(rowsPerBand, height - row)
                let m = Copy2D(device: device, stream: handle, direction: .deviceToHost, destination: 0, destinationPitch: width,
                               source: UInt64(source) + UInt64(row * sourcePitch), sourcePitch: sourcePitch,
                               width: width, height: rows, host: .inline)
                let first = row
                let reply = c.call(m) { (r: inout WireReader) throws(WireError) -> Void in
                    let data = r.rest()
                    guard data.count == rows * width else { throw WireError(.malformed, "2D reply of \(data.count) bytes") }
                    for i in 0..<rows {
                        memcpy(UnsafeMutableRawPointer(bitPattern: destination + UInt((first + i) * destinationPitch))!,
                               data.baseAddress! + i * width, width)
                    }
                }
                let e = outcome(reply, device: device, synchronizing: true).0
                if e != 0 { return e }
                row += rows
            }
            return 0
        }
    }
}
