import TesseraClientCore
import TesseraWire

/// `cuModuleEnumerateFunctions` (CUDA 12.4): every kernel of a module, in name order, as function handles —
/// what a node's GPU worker uses to learn a module's kernels when it runs over this driver (stacking).
@_cdecl("cuModuleEnumerateFunctions")
public func cuModuleEnumerateFunctions(_ functions: UnsafeMutablePointer<UInt>?, _ count: UInt32, _ handle: UInt) -> Int32 {
    guard let functions else { return CUresult.invalidValue }
    let driver = Driver.shared
    return driver.withState {
        guard let m = driver.modules[handle] else { return CUresult.invalidHandle }
        guard case .success(let loaded) = driver.core.module(m.record, device: m.device) else { return CUresult.invalidHandle }
        let names = loaded.kernels.keys.sorted()
        guard Int(count) >= names.count else { return CUresult.invalidValue }
        for (i, kernel) in names.enumerated() {
            if let f = m.functions[kernel] {
                functions[i] = f.handle
                continue
            }
            let f = Driver.Function(reference: KernelReference(fatbin: m.record, name: kernel), device: m.device, module: m, library: m.library)
            m.functions[kernel] = f
            driver.functions[f.handle] = f
            functions[i] = f.handle
        }
        return CUresult.success
    }
}
