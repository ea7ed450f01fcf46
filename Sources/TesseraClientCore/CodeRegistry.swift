import TesseraWire

/// A fatbinary the program registered at load, and the module it became on each device that used it.
package final class FatbinRecord {
    /// The container (or PTX text) nvcc embedded.
    package let image: UnsafeRawBufferPointer
    package var loaded: [Int: LoadedModule] = [:]
    package var loadErrors: [Int: Int32] = [:]

    package init(image: UnsafeRawBufferPointer) { self.image = image }

    /// Finds the image behind a `__fatBinC_Wrapper_t` (magic 0x466243B1; `data` at offset 8).
    package static func image(fromWrapper wrapper: UnsafeRawPointer) -> UnsafeRawBufferPointer? {
        guard wrapper.loadUnaligned(as: UInt32.self) == 0x4662_43B1,
              let data = wrapper.loadUnaligned(fromByteOffset: 8, as: UnsafeRawPointer?.self)
        else { return nil }
        if data.loadUnaligned(as: UInt32.self) == 0xBA55_ED50 {
            let headerSize = Int(data.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
            let payload = Int(data.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            guard headerSize >= 16, payload < 1 << 32 else { return nil }
            return UnsafeRawBufferPointer(start: data, count: headerSize + payload)
        }
        // PTX text embedded directly: up to and including the terminating NUL.
        var n = 0
        while data.load(fromByteOffset: n, as: UInt8.self) != 0 && n < 1 << 30 { n += 1 }
        return UnsafeRawBufferPointer(start: data, count: n + 1)
    }
}

/// A fatbinary loaded on one device.
package struct LoadedModule {
    package var handle: UInt64
    package var kernels: [String: (index: Int, info: KernelInfo)]
    package var variables: [String: VariableInfo]
}

/// A `__global__` function the program registered (its host stub is the `func` argument of CUDA calls), with
/// what each device resolved it to.
package final class KernelReference {
    package let fatbin: FatbinRecord
    package let name: String
    /// Per device: module handle, kernel index and info; filled on first launch there.
    package var resolved: [ResolvedKernel?] = []

    package init(fatbin: FatbinRecord, name: String) {
        self.fatbin = fatbin
        self.name = name
    }
}

/// A kernel as one device knows it. A class: every launch reads it, and a reference costs one retain where a
/// copy of the kernel's info costs one per string and array in it.
package final class ResolvedKernel {
    package let module: UInt64
    package let index: Int
    package let info: KernelInfo
    /// `info.parameterBufferSize`, read once.
    package let parameterBufferSize: Int

    package init(module: UInt64, index: Int, info: KernelInfo) {
        self.module = module
        self.index = index
        self.info = info
        parameterBufferSize = info.parameterBufferSize
    }
}

/// A `__device__` or `__constant__` variable the program registered.
package struct VariableReference {
    package let fatbin: FatbinRecord
    package let name: String
    package let size: Int

    package init(fatbin: FatbinRecord, name: String, size: Int) {
        self.fatbin = fatbin; self.name = name; self.size = size
    }
}

extension ClientCore {
    /// The module of `fatbin` on `device`, loading it there on first use (one round trip per module and device).
    package func module(_ fatbin: FatbinRecord, device: Int) -> Result<LoadedModule, RuntimeFailure> {
        if let m = fatbin.loaded[device] { return .success(m) }
        if let e = fatbin.loadErrors[device] { return .failure(RuntimeFailure(e, "")) }
        let reply = link(device).call(LoadModule(device: device), payload: fatbin.image) { (r) throws(WireError) in try LoadModuleReply(from: &r) }
        if case let .done(h, _, _) = reply, !h.status.isOK {
            Log.once("module:\(h.status.message)", "cannot load the program's GPU code: \(h.status)")
        }
        let (e, value) = outcome(reply, device: device, synchronizing: false)
        guard e == 0, let value else {
            if e != CUDAError.unknown { fatbin.loadErrors[device] = e }
            return .failure(RuntimeFailure(e, ""))
        }
        var kernels: [String: (index: Int, info: KernelInfo)] = [:]
        for (i, k) in value.kernels.enumerated() { kernels[k.name] = (i, k) }
        var variables: [String: VariableInfo] = [:]
        for v in value.variables { variables[v.name] = v }
        let m = LoadedModule(handle: value.module, kernels: kernels, variables: variables)
        fatbin.loaded[device] = m
        return .success(m)
    }

    /// What `kernel` is on `device`.
    package func resolve(_ kernel: KernelReference, device: Int) -> Result<ResolvedKernel, RuntimeFailure> {
        if device < kernel.resolved.count, let r = kernel.resolved[device] { return .success(r) }
        switch module(kernel.fatbin, device: device) {
        case .failure(let f): return .failure(f)
        case .success(let m):
            guard let k = m.kernels[kernel.name] else {
                Log.once("kernel:\(kernel.name)", "kernel \(kernel.name) is not in the program's GPU code")
                return .failure(RuntimeFailure(CUDAError.invalidDeviceFunction, ""))
            }
            let r = ResolvedKernel(module: m.handle, index: k.index, info: k.info)
            while kernel.resolved.count <= device { kernel.resolved.append(nil) }
            kernel.resolved[device] = r
            return .success(r)
        }
    }

    /// The device address and size of a registered variable on `device`.
    package func resolve(symbol: UnsafeRawPointer, device: Int) -> Result<VariableInfo, RuntimeFailure> {
        guard let v = variables[symbol] else { return .failure(RuntimeFailure(CUDAError.invalidSymbol, "")) }
        switch module(v.fatbin, device: device) {
        case .failure(let f): return .failure(f)
        case .success(let m):
            guard let info = m.variables[v.name] else { return .failure(RuntimeFailure(CUDAError.invalidSymbol, "")) }
            return .success(info)
        }
    }

    /// Forgets what was loaded on `device` (after cudaDeviceReset).
    package func forgetModules(device: Int) {
        for f in fatbins.values {
            f.loaded[device] = nil
            f.loadErrors[device] = nil
        }
        for k in functions.values where device < k.resolved.count { k.resolved[device] = nil }
    }
}
