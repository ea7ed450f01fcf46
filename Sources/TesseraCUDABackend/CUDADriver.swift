#if canImport(Glibc)
import Glibc
#endif
import TesseraDevice
import TesseraWire

/// The CUDA driver API loaded at run time with `dlopen`, so that the `tessera` binary starts on machines without
/// a driver. Entry points are resolved through `cuGetProcAddress_v2` (the versioned look-up NVIDIA's runtime
/// uses), falling back to `dlsym` of the exported, suffixed names.
///
/// Only the worker process loads it (the node never holds a CUDA context itself); one instance per process.
public final class CUDADriver: @unchecked Sendable {
    /// The system's driver library name; `--cuda-driver` overrides it.
    public static let defaultPath = "libcuda.so.1"

    public typealias Result = Int32
    // Signatures as in cuda.h (CUdevice is int; handles are pointers; CUdeviceptr is 64-bit).
    typealias FInit = @convention(c) (UInt32) -> Result
    typealias FIntOut = @convention(c) (UnsafeMutablePointer<Int32>?) -> Result
    typealias FDeviceGet = @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Result
    typealias FDeviceGetName = @convention(c) (UnsafeMutablePointer<CChar>?, Int32, Int32) -> Result
    typealias FDeviceTotalMem = @convention(c) (UnsafeMutablePointer<Int>?, Int32) -> Result
    typealias FDeviceGetAttribute = @convention(c) (UnsafeMutablePointer<Int32>?, Int32, Int32) -> Result
    typealias FDeviceGetUuid = @convention(c) (UnsafeMutableRawPointer?, Int32) -> Result
    typealias FDeviceGetPCIBusId = @convention(c) (UnsafeMutablePointer<CChar>?, Int32, Int32) -> Result
    typealias FCtxCreate = @convention(c) (UnsafeMutablePointer<OpaquePointer?>?, UInt32, Int32) -> Result
    typealias FHandle = @convention(c) (OpaquePointer?) -> Result
    typealias FVoid = @convention(c) () -> Result
    typealias FMemGetInfo = @convention(c) (UnsafeMutablePointer<Int>?, UnsafeMutablePointer<Int>?) -> Result
    typealias FMemAlloc = @convention(c) (UnsafeMutablePointer<UInt64>?, Int) -> Result
    typealias FMemFree = @convention(c) (UInt64) -> Result
    typealias FMemcpyHtoDAsync = @convention(c) (UInt64, UnsafeRawPointer?, Int, OpaquePointer?) -> Result
    typealias FMemcpyDtoHAsync = @convention(c) (UnsafeMutableRawPointer?, UInt64, Int, OpaquePointer?) -> Result
    typealias FMemcpyDtoDAsync = @convention(c) (UInt64, UInt64, Int, OpaquePointer?) -> Result
    typealias FMemsetD8Async = @convention(c) (UInt64, UInt8, Int, OpaquePointer?) -> Result
    typealias FStreamCreateWithPriority = @convention(c) (UnsafeMutablePointer<OpaquePointer?>?, UInt32, Int32) -> Result
    typealias FStreamWaitEvent = @convention(c) (OpaquePointer?, OpaquePointer?, UInt32) -> Result
    typealias FEventCreate = @convention(c) (UnsafeMutablePointer<OpaquePointer?>?, UInt32) -> Result
    typealias FEventRecord = @convention(c) (OpaquePointer?, OpaquePointer?) -> Result
    typealias FEventElapsedTime = @convention(c) (UnsafeMutablePointer<Float>?, OpaquePointer?, OpaquePointer?) -> Result
    typealias FModuleLoadData = @convention(c) (UnsafeMutablePointer<OpaquePointer?>?, UnsafeRawPointer?) -> Result
    typealias FModuleGetFunctionCount = @convention(c) (UnsafeMutablePointer<UInt32>?, OpaquePointer?) -> Result
    typealias FModuleEnumerateFunctions = @convention(c) (UnsafeMutablePointer<OpaquePointer?>?, UInt32, OpaquePointer?) -> Result
    typealias FFuncGetName = @convention(c) (UnsafeMutablePointer<UnsafePointer<CChar>?>?, OpaquePointer?) -> Result
    typealias FFuncGetParamInfo = @convention(c) (OpaquePointer?, Int, UnsafeMutablePointer<Int>?, UnsafeMutablePointer<Int>?) -> Result
    typealias FFuncGetAttribute = @convention(c) (UnsafeMutablePointer<Int32>?, Int32, OpaquePointer?) -> Result
    typealias FModuleGetGlobal = @convention(c) (UnsafeMutablePointer<UInt64>?, UnsafeMutablePointer<Int>?, OpaquePointer?, UnsafePointer<CChar>?) -> Result
    typealias FLaunchKernel = @convention(c) (OpaquePointer?, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, OpaquePointer?,
                                              UnsafeMutablePointer<UnsafeMutableRawPointer?>?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Result
    typealias FLaunchCooperativeKernel = @convention(c) (OpaquePointer?, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, OpaquePointer?,
                                                         UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Result
    // Virtual memory management (CUDA 10.2+). CUmemGenericAllocationHandle is unsigned long long.
    typealias FMemGetAllocationGranularity = @convention(c) (UnsafeMutablePointer<Int>?, UnsafeRawPointer?, Int32) -> Result
    typealias FMemAddressReserve = @convention(c) (UnsafeMutablePointer<UInt64>?, Int, Int, UInt64, UInt64) -> Result
    typealias FMemAddressFree = @convention(c) (UInt64, Int) -> Result
    typealias FMemCreate = @convention(c) (UnsafeMutablePointer<UInt64>?, Int, UnsafeRawPointer?, UInt64) -> Result
    typealias FMemRelease = @convention(c) (UInt64) -> Result
    typealias FMemMap = @convention(c) (UInt64, Int, Int, UInt64, UInt64) -> Result
    typealias FMemUnmap = @convention(c) (UInt64, Int) -> Result
    typealias FMemSetAccess = @convention(c) (UInt64, Int, UnsafeRawPointer?, Int) -> Result
    typealias FMemGetAccess = @convention(c) (UnsafeMutablePointer<UInt64>?, UnsafeRawPointer?, UInt64) -> Result
    typealias FMemRetainAllocationHandle = @convention(c) (UnsafeMutablePointer<UInt64>?, UnsafeMutableRawPointer?) -> Result
    // Mapped host memory: cuMemHostRegister_v2, cuMemHostUnregister, cuMemHostGetDevicePointer_v2.
    typealias FMemHostRegister = @convention(c) (UnsafeMutableRawPointer?, Int, UInt32) -> Result
    typealias FMemHostUnregister = @convention(c) (UnsafeMutableRawPointer?) -> Result
    typealias FMemHostGetDevicePointer = @convention(c) (UnsafeMutablePointer<UInt64>?, UnsafeMutableRawPointer?, UInt32) -> Result
    typealias FGetErrorName = @convention(c) (Result, UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Result
    typealias FGetProcAddress = @convention(c) (UnsafePointer<CChar>?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?, Int32, UInt64,
                                                UnsafeMutablePointer<Int32>?) -> Result

    let cuInit: FInit
    let cuDriverGetVersion: FIntOut
    let cuDeviceGetCount: FIntOut
    let cuDeviceGet: FDeviceGet
    let cuDeviceGetName: FDeviceGetName
    let cuDeviceTotalMem: FDeviceTotalMem
    let cuDeviceGetAttribute: FDeviceGetAttribute
    let cuDeviceGetUuid: FDeviceGetUuid
    let cuDeviceGetPCIBusId: FDeviceGetPCIBusId?
    let cuCtxCreate: FCtxCreate
    let cuCtxDestroy: FHandle
    let cuCtxSynchronize: FVoid
    let cuMemGetInfo: FMemGetInfo
    let cuMemAlloc: FMemAlloc
    let cuMemFree: FMemFree
    let cuMemcpyHtoDAsync: FMemcpyHtoDAsync
    let cuMemcpyDtoHAsync: FMemcpyDtoHAsync
    let cuMemcpyDtoDAsync: FMemcpyDtoDAsync
    let cuMemsetD8Async: FMemsetD8Async
    let cuStreamCreateWithPriority: FStreamCreateWithPriority
    let cuStreamDestroy: FHandle
    let cuStreamSynchronize: FHandle
    let cuStreamQuery: FHandle
    let cuStreamWaitEvent: FStreamWaitEvent
    let cuEventCreate: FEventCreate
    let cuEventDestroy: FHandle
    let cuEventRecord: FEventRecord
    let cuEventSynchronize: FHandle
    let cuEventQuery: FHandle
    let cuEventElapsedTime: FEventElapsedTime
    let cuModuleLoadData: FModuleLoadData
    let cuModuleUnload: FHandle
    let cuModuleGetFunctionCount: FModuleGetFunctionCount
    let cuModuleEnumerateFunctions: FModuleEnumerateFunctions
    let cuFuncGetName: FFuncGetName
    let cuFuncGetParamInfo: FFuncGetParamInfo
    let cuFuncGetAttribute: FFuncGetAttribute
    let cuModuleGetGlobal: FModuleGetGlobal
    let cuLaunchKernel: FLaunchKernel
    let cuLaunchCooperativeKernel: FLaunchCooperativeKernel?
    let cuGetErrorName: FGetErrorName?
    let cuMemGetAccess: FMemGetAccess?
    let cuMemRetainAllocationHandle: FMemRetainAllocationHandle?
    /// Virtual memory management, when the driver has all of it (paging keeps addresses with it).
    let virtualMemory: VirtualMemoryFunctions?
    /// Page-locking and mapping host memory for the device, when the driver has all of it (mapped host memory).
    let hostMemory: HostMemoryFunctions?

    struct HostMemoryFunctions {
        let register: FMemHostRegister
        let unregister: FMemHostUnregister
        let devicePointer: FMemHostGetDevicePointer
    }

    struct VirtualMemoryFunctions {
        let granularity: FMemGetAllocationGranularity
        let reserve: FMemAddressReserve
        let free: FMemAddressFree
        let create: FMemCreate
        let release: FMemRelease
        let map: FMemMap
        let unmap: FMemUnmap
        let setAccess: FMemSetAccess
    }

    /// The driver's version (e.g. 13000 for CUDA 13.0).
    public let version: Int

    /// Loads the driver library at `path` and resolves every entry point the worker uses; throws one clear
    /// line when the library is missing or too old.
    public init(path: String = CUDADriver.defaultPath) throws(DeviceError) {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            let why = dlerror().map { String(cString: $0) } ?? "unknown error"
            throw DeviceError(.unavailable, "no CUDA driver: cannot load \(path) (\(why)); is the NVIDIA driver installed?")
        }
        let lookUp = dlsym(handle, "cuGetProcAddress_v2").map { unsafeBitCast($0, to: FGetProcAddress.self) }
        /// `base` through cuGetProcAddress at CUDA `version`; else the exported `exported` name.
        func resolve<F>(_ base: String, _ exported: String, version: Int32 = 12000, as type: F.Type) throws(DeviceError) -> F {
            var pointer: UnsafeMutableRawPointer?
            if let lookUp {
                var status: Int32 = 0
                // CU_GET_PROC_ADDRESS_SUCCESS is 0.
                if lookUp(base, &pointer, version, 0, &status) != 0 || status != 0 { pointer = nil }
            }
            if pointer == nil { pointer = dlsym(handle, exported) }
            guard let pointer else {
                throw DeviceError(.unavailable, "the CUDA driver \(path) lacks \(exported) (CUDA 12.4 or newer is required)")
            }
            return unsafeBitCast(pointer, to: type)
        }
        func optional<F>(_ base: String, _ exported: String, as t: F.Type) -> F? {
            do throws(DeviceError) { return try resolve(base, exported, as: t) } catch { return nil }
        }
        cuInit = try resolve("cuInit", "cuInit", as: FInit.self)
        cuDriverGetVersion = try resolve("cuDriverGetVersion", "cuDriverGetVersion", as: FIntOut.self)
        cuDeviceGetCount = try resolve("cuDeviceGetCount", "cuDeviceGetCount", as: FIntOut.self)
        cuDeviceGet = try resolve("cuDeviceGet", "cuDeviceGet", as: FDeviceGet.self)
        cuDeviceGetName = try resolve("cuDeviceGetName", "cuDeviceGetName", as: FDeviceGetName.self)
        cuDeviceTotalMem = try resolve("cuDeviceTotalMem", "cuDeviceTotalMem_v2", as: FDeviceTotalMem.self)
        cuDeviceGetAttribute = try resolve("cuDeviceGetAttribute", "cuDeviceGetAttribute", as: FDeviceGetAttribute.self)
        cuDeviceGetUuid = try resolve("cuDeviceGetUuid", "cuDeviceGetUuid", as: FDeviceGetUuid.self)
        cuDeviceGetPCIBusId = optional("cuDeviceGetPCIBusId", "cuDeviceGetPCIBusId", as: FDeviceGetPCIBusId.self)
        // At 11.4 and later cuCtxCreate means _v3 (execution-affinity parameters); the plain form is _v2.
        cuCtxCreate = try resolve("cuCtxCreate", "cuCtxCreate_v2", version: 11000, as: FCtxCreate.self)
        cuCtxDestroy = try resolve("cuCtxDestroy", "cuCtxDestroy_v2", as: FHandle.self)
        cuCtxSynchronize = try resolve("cuCtxSynchronize", "cuCtxSynchronize", as: FVoid.self)
        cuMemGetInfo = try resolve("cuMemGetInfo", "cuMemGetInfo_v2", as: FMemGetInfo.self)
        cuMemAlloc = try resolve("cuMemAlloc", "cuMemAlloc_v2", as: FMemAlloc.self)
        cuMemFree = try resolve("cuMemFree", "cuMemFree_v2", as: FMemFree.self)
        cuMemcpyHtoDAsync = try resolve("cuMemcpyHtoDAsync", "cuMemcpyHtoDAsync_v2", as: FMemcpyHtoDAsync.self)
        cuMemcpyDtoHAsync = try resolve("cuMemcpyDtoHAsync", "cuMemcpyDtoHAsync_v2", as: FMemcpyDtoHAsync.self)
        cuMemcpyDtoDAsync = try resolve("cuMemcpyDtoDAsync", "cuMemcpyDtoDAsync_v2", as: FMemcpyDtoDAsync.self)
        cuMemsetD8Async = try resolve("cuMemsetD8Async", "cuMemsetD8Async", as: FMemsetD8Async.self)
        cuStreamCreateWithPriority = try resolve("cuStreamCreateWithPriority", "cuStreamCreateWithPriority", as: FStreamCreateWithPriority.self)
        cuStreamDestroy = try resolve("cuStreamDestroy", "cuStreamDestroy_v2", as: FHandle.self)
        cuStreamSynchronize = try resolve("cuStreamSynchronize", "cuStreamSynchronize", as: FHandle.self)
        cuStreamQuery = try resolve("cuStreamQuery", "cuStreamQuery", as: FHandle.self)
        cuStreamWaitEvent = try resolve("cuStreamWaitEvent", "cuStreamWaitEvent", as: FStreamWaitEvent.self)
        cuEventCreate = try resolve("cuEventCreate", "cuEventCreate", as: FEventCreate.self)
        cuEventDestroy = try resolve("cuEventDestroy", "cuEventDestroy_v2", as: FHandle.self)
        cuEventRecord = try resolve("cuEventRecord", "cuEventRecord", as: FEventRecord.self)
        cuEventSynchronize = try resolve("cuEventSynchronize", "cuEventSynchronize", as: FHandle.self)
        cuEventQuery = try resolve("cuEventQuery", "cuEventQuery", as: FHandle.self)
        cuEventElapsedTime = try resolve("cuEventElapsedTime", "cuEventElapsedTime", as: FEventElapsedTime.self)
        cuModuleLoadData = try resolve("cuModuleLoadData", "cuModuleLoadData", as: FModuleLoadData.self)
        cuModuleUnload = try resolve("cuModuleUnload", "cuModuleUnload", as: FHandle.self)
        cuModuleGetFunctionCount = try resolve("cuModuleGetFunctionCount", "cuModuleGetFunctionCount", version: 12040, as: FModuleGetFunctionCount.self)
        cuModuleEnumerateFunctions = try resolve("cuModuleEnumerateFunctions", "cuModuleEnumerateFunctions", version: 12040,
                                                 as: FModuleEnumerateFunctions.self)
        cuFuncGetName = try resolve("cuFuncGetName", "cuFuncGetName", version: 12030, as: FFuncGetName.self)
        cuFuncGetParamInfo = try resolve("cuFuncGetParamInfo", "cuFuncGetParamInfo", version: 12040, as: FFuncGetParamInfo.self)
        cuFuncGetAttribute = try resolve("cuFuncGetAttribute", "cuFuncGetAttribute", as: FFuncGetAttribute.self)
        cuModuleGetGlobal = try resolve("cuModuleGetGlobal", "cuModuleGetGlobal_v2", as: FModuleGetGlobal.self)
        cuLaunchKernel = try resolve("cuLaunchKernel", "cuLaunchKernel", as: FLaunchKernel.self)
        cuLaunchCooperativeKernel = optional("cuLaunchCooperativeKernel", "cuLaunchCooperativeKernel", as: FLaunchCooperativeKernel.self)
        cuGetErrorName = optional("cuGetErrorName", "cuGetErrorName", as: FGetErrorName.self)
        cuMemGetAccess = optional("cuMemGetAccess", "cuMemGetAccess", as: FMemGetAccess.self)
        cuMemRetainAllocationHandle = optional("cuMemRetainAllocationHandle", "cuMemRetainAllocationHandle", as: FMemRetainAllocationHandle.self)
        if let granularity = optional("cuMemGetAllocationGranularity", "cuMemGetAllocationGranularity", as: FMemGetAllocationGranularity.self),
           let reserve = optional("cuMemAddressReserve", "cuMemAddressReserve", as: FMemAddressReserve.self),
           let free = optional("cuMemAddressFree", "cuMemAddressFree", as: FMemAddressFree.self),
           let create = optional("cuMemCreate", "cuMemCreate", as: FMemCreate.self),
           let release = optional("cuMemRelease", "cuMemRelease", as: FMemRelease.self),
           let map = optional("cuMemMap", "cuMemMap", as: FMemMap.self),
           let unmap = optional("cuMemUnmap", "cuMemUnmap", as: FMemUnmap.self),
           let setAccess = optional("cuMemSetAccess", "cuMemSetAccess", as: FMemSetAccess.self) {
            virtualMemory = VirtualMemoryFunctions(granularity: granularity, reserve: reserve, free: free, create: create, release: release,
                                                   map: map, unmap: unmap, setAccess: setAccess)
        } else {
            virtualMemory = nil
        }
        if let register = optional("cuMemHostRegister", "cuMemHostRegister_v2", as: FMemHostRegister.self),
           let unregister = optional("cuMemHostUnregister", "cuMemHostUnregister", as: FMemHostUnregister.self),
           let devicePointer = optional("cuMemHostGetDevicePointer", "cuMemHostGetDevicePointer_v2", as: FMemHostGetDevicePointer.self) {
            hostMemory = HostMemoryFunctions(register: register, unregister: unregister, devicePointer: devicePointer)
        } else {
            hostMemory = nil
        }
        let rc = cuInit(0)
        guard rc == 0 else {
            throw DeviceError(.unavailable, "the CUDA driver \(path) did not initialise (CUresult \(rc)); no usable GPU")
        }
        var v: Int32 = 0
        _ = cuDriverGetVersion(&v)
        version = Int(v)
    }

    /// The name cuda.h gives a result code.
    func name(of result: Result) -> String {
        var p: UnsafePointer<CChar>?
        if let cuGetErrorName, cuGetErrorName(result, &p) == 0, let p { return String(cString: p) }
        return "CUresult \(result)"
    }

    /// Throws the device error a failed call means; sticky codes poison the worker's context.
    func check(_ result: Result, _ what: @autoclosure () -> String) throws(DeviceError) {
        guard result != 0 else { return }
        throw DeviceError(Self.code(of: result), "\(what()): \(name(of: result))")
    }

    /// The wire's status code for a CUresult.
    static func code(of result: Result) -> ReplyStatus.Code {
        switch result {
        case 1: .invalidValue
        case 2: .outOfMemory
        case 100, 101: .invalidDevice
        case 200, 201, 218, 222: .invalidImage
        case 209: .noKernelImage
        case 400: .invalidHandle
        case 500: .notFound
        case 600: .notReady
        case 700, 716, 717, 718: .illegalAddress
        case 701: .invalidConfiguration
        case 710: .assertFailed
        case 720: .cooperativeLaunchTooLarge
        case 714, 715, 719: .launchFailure
        case 801: .notSupported
        default: .internalError
        }
    }
}
