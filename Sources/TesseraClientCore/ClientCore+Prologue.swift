import TesseraWire

/// The prologue every API call repeats, in one place: take the lock, open the session on first use, pick and
/// check the device, and answer with the device's sticky error when its context is poisoned.
extension ClientCore {
    /// Runs `body` with the home connection under the lock; a core that cannot reach its node answers every
    /// call with the reason it failed.
    @inline(__always)
    package func withSession(_ body: (Connection) -> Int32) -> Int32 {
        lock.withLock {
            switch connection() {
            case .success(let c): body(c)
            case .failure(let f): f.code
            }
        }
    }

    /// Runs `body` for one granted device (the calling thread's current device unless `device` is given) with
    /// that device's node connection, under the lock.
    /// - Returns: `body`'s result, or the session failure, `invalidDevice`, or the device's sticky error.
    @inline(__always)
    package func withDevice(_ device: Int? = nil, checkSticky: Bool = true, _ body: (Int, Connection) -> Int32) -> Int32 {
        withSession { _ in
            let d = device ?? ThreadState.current.device
            guard d >= 0, d < devices.count else { return CUDAError.invalidDevice }
            if checkSticky, case let s = sticky(d), s != 0 { return s }
            return body(d, link(d))
        }
    }

    /// The granted vGPUs (opening the session on first use), or the failure to open it.
    package func grantedDevices() -> Result<[VirtualDeviceInfo], RuntimeFailure> {
        lock.withLock { connection().map { _ in devices } }
    }
}
