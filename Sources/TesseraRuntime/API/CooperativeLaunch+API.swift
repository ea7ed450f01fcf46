import CCudaABI
import TesseraClientCore

// Cooperative launches: every block resident at once, so that `cooperative_groups::this_grid().sync()` works.
// A grid larger than the device can hold fails with cudaErrorCooperativeLaunchTooLarge, as CUDA's does.

@_cdecl("cudaLaunchCooperativeKernel")
public func cudaLaunchCooperativeKernel(
    _ function: UnsafeRawPointer?, _ grid: tessera_dim3, _ block: tessera_dim3,
    _ args: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ sharedMemory: Int, _ stream: UnsafeMutableRawPointer?
) -> Int32 {
    let rt = Runtime.shared
    guard let ref = rt.lock.withLock({ function.flatMap { rt.functions[$0] } }) else { return record(CUDAError.invalidDeviceFunction) }
    return record(rt.launch(ref, grid: Dim3(grid), block: Dim3(block), parameters: .pointers(args), sharedMemory: sharedMemory,
                            stream: UInt(bitPattern: stream), cooperative: true))
}

@_cdecl("cudaLaunchCooperativeKernel_ptsz")
public func cudaLaunchCooperativeKernel_ptsz(
    _ function: UnsafeRawPointer?, _ grid: tessera_dim3, _ block: tessera_dim3,
    _ args: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ sharedMemory: Int, _ stream: UnsafeMutableRawPointer?
) -> Int32 {
    cudaLaunchCooperativeKernel(function, grid, block, args, sharedMemory, stream)
}
