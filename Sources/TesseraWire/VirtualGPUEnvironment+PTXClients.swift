extension VirtualGPUEnvironment {
    /// What programs on a simulated GPU need so that frameworks which compile for the device hand it PTX, the
    /// only code a simulated GPU runs; `tessera run` and the device plugin apply it when the node says its GPUs
    /// are simulated, never by guess.
    /// - CuPy: `CUPY_COMPILE_WITH_PTX=1` makes NVRTC emit PTX instead of a cubin (unless the user set it). Its
    ///   prebuilt CUB library needs nothing: it ships generic PTX, which the simulated GPU runs.
    /// - numba-cuda: it compiles through NVIDIA's nvJitLink, which emits machine code only. Preloading
    ///   Tessera's stand-in under nvJitLink's soname (a library without nvJitLink's functions) makes numba-cuda
    ///   and cuda-core fall back, as they do without nvJitLink, to the driver's own linker (`cuLink*`), which
    ///   receives PTX; cuda-core's warning that nvJitLink is missing or too old is filtered out.
    /// - Parameters:
    ///   - jitLinkStandIn: path of the stand-in library (a file or link named `libnvJitLink.so.13`).
    ///   - current: the environment's present value of a variable.
    /// - Returns: the variables to set, with their new values.
    public static func ptxClientSettings(jitLinkStandIn: String, current: (String) -> String?) -> [String: String] {
        var settings: [String: String] = [:]
        if current("CUPY_COMPILE_WITH_PTX") == nil { settings["CUPY_COMPILE_WITH_PTX"] = "1" }
        let preload = current("LD_PRELOAD") ?? ""
        if !preload.split(separator: " ").contains(where: { $0 == jitLinkStandIn }) {
            settings["LD_PRELOAD"] = preload.isEmpty ? jitLinkStandIn : "\(jitLinkStandIn) \(preload)"
        }
        let filter = "ignore:libnvJitLink:RuntimeWarning"
        let warnings = current("PYTHONWARNINGS") ?? ""
        if !warnings.contains(filter) { settings["PYTHONWARNINGS"] = warnings.isEmpty ? filter : "\(warnings),\(filter)" }
        return settings
    }
}
