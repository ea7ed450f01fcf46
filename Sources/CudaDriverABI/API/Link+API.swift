#if canImport(Glibc)
import Glibc
#endif
import TesseraClientCore

// JIT linking, for what the simulated GPU can run: PTX in, one PTX module out. Modules that reference each
// other's symbols need a real linker and are refused with a clear message.

@_cdecl("cuLinkCreate_v2")
public func cuLinkCreate_v2(_ count: UInt32, _ options: UnsafeMutablePointer<Int32>?, _ values: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                            _ state: UnsafeMutablePointer<UInt>?) -> Int32 {
    guard let state else { return CUresult.invalidValue }
    let driver = Driver.shared
    if case .failure(let e) = driver.currentDevice() { return e.code }
    state.pointee = driver.withState {
        let s = Driver.LinkState()
        driver.links[s.handle] = s
        return s.handle
    }
    return CUresult.success
}

@_cdecl("cuLinkCreate")
public func cuLinkCreate(_ count: UInt32, _ options: UnsafeMutablePointer<Int32>?, _ values: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                         _ state: UnsafeMutablePointer<UInt>?) -> Int32 {
    cuLinkCreate_v2(count, options, values, state)
}

/// Adds one input: PTX text, or a fatbinary/wrapper whose best PTX the node would pick (taken as is).
private func add(_ handle: UInt, type: Int32, bytes: UnsafeRawBufferPointer, name: String) -> Int32 {
    let driver = Driver.shared
    guard let s = driver.withState({ driver.links[handle] }) else { return CUresult.invalidHandle }
    switch type {
    case 1:  // CU_JIT_INPUT_PTX
        let end = bytes.firstIndex(of: 0) ?? bytes.count
        let text = String(decoding: bytes[..<end], as: UTF8.self)
        guard text.contains(".entry") || text.contains(".visible") || text.contains(".func") || text.contains(".global") else {
            Log.once("link:\(name)", "cuLinkAddData: '\(name)' is not PTX")
            return CUresult.invalidImage
        }
        driver.withState { s.inputs.append((name, text)) }
        return CUresult.success
    case 0, 3, 4:  // cubin, object, library: machine code the simulated GPU cannot run
        Log.once("link:kind\(type)", "cuLinkAddData: only PTX inputs can be linked for Tessera's simulated GPU")
        return CUresult.noBinaryForGPU
    default:
        Log.once("link:kind\(type)", "cuLinkAddData: input type \(type) is not supported by Tessera")
        return CUresult.notSupported
    }
}

@_cdecl("cuLinkAddData_v2")
public func cuLinkAddData_v2(_ handle: UInt, _ type: Int32, _ data: UnsafeRawPointer?, _ size: Int, _ name: UnsafePointer<CChar>?,
                             _ count: UInt32, _ options: UnsafeMutablePointer<Int32>?, _ values: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    guard let data, size > 0 else { return CUresult.invalidValue }
    return add(handle, type: type, bytes: UnsafeRawBufferPointer(start: data, count: size), name: name.map { String(cString: $0) } ?? "input")
}

@_cdecl("cuLinkAddData")
public func cuLinkAddData(_ handle: UInt, _ type: Int32, _ data: UnsafeRawPointer?, _ size: Int, _ name: UnsafePointer<CChar>?,
                          _ count: UInt32, _ options: UnsafeMutablePointer<Int32>?, _ values: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    cuLinkAddData_v2(handle, type, data, size, name, count, options, values)
}

@_cdecl("cuLinkAddFile_v2")
public func cuLinkAddFile_v2(_ handle: UInt, _ type: Int32, _ path: UnsafePointer<CChar>?, _ count: UInt32,
                             _ options: UnsafeMutablePointer<Int32>?, _ values: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    guard let path else { return CUresult.invalidValue }
    switch Image.read(path: path) {
    case .failure(let f): return f.code
    case .success(let bytes): return bytes.withUnsafeBytes { add(handle, type: type, bytes: $0, name: String(cString: path)) }
    }
}

@_cdecl("cuLinkAddFile")
public func cuLinkAddFile(_ handle: UInt, _ type: Int32, _ path: UnsafePointer<CChar>?, _ count: UInt32,
                          _ options: UnsafeMutablePointer<Int32>?, _ values: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    cuLinkAddFile_v2(handle, type, path, count, options, values)
}

/// Joins PTX modules that do not reference each other: one header (the newest ISA version and target among
/// them), then every module's body.
func linkPTX(_ inputs: [(name: String, ptx: String)]) -> Result<String, DriverFailure> {
    guard let first = inputs.first else { return .failure(DriverFailure(CUresult.invalidValue)) }
    if inputs.count == 1 { return .success(first.ptx) }
    var version = (0, 0), target = "", addressSize = "64"
    var bodies: [String] = []
    for input in inputs {
        var body: [Substring] = []
        for line in input.ptx.split(separator: "\n", omittingEmptySubsequences: false) {
            let t = line.trimmingPrefix(while: { $0 == " " || $0 == "\t" })
            if t.hasPrefix(".version") {
                let parts = t.dropFirst(8).split(separator: ".").compactMap { Int($0.filter(\.isNumber)) }
                if parts.count == 2, (parts[0], parts[1]) > version { version = (parts[0], parts[1]) }
            } else if t.hasPrefix(".target") {
                let value = String(t.dropFirst(7).trimmingPrefix(while: { $0 == " " }))
                if value > target { target = value }
            } else if t.hasPrefix(".address_size") {
                addressSize = String(t.dropFirst(13).trimmingPrefix(while: { $0 == " " }))
            } else if t.hasPrefix(".extern") {
                Log.once("link:extern", "cuLinkComplete: '\(input.name)' references symbols of another module; Tessera links only PTX modules that stand alone")
                return .failure(DriverFailure(CUresult.notSupported))
            } else {
                body.append(line)
            }
        }
        bodies.append(body.joined(separator: "\n"))
    }
    let header = ".version \(version.0).\(version.1)\n.target \(target)\n.address_size \(addressSize)\n"
    return .success(header + bodies.joined(separator: "\n"))
}

@_cdecl("cuLinkComplete")
public func cuLinkComplete(_ handle: UInt, _ image: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ size: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let image else { return CUresult.invalidValue }
    let driver = Driver.shared
    guard let s = driver.withState({ driver.links[handle] }) else { return CUresult.invalidHandle }
    switch linkPTX(s.inputs) {
    case .failure(let f): return f.code
    case .success(let ptx):
        var bytes = Array(ptx.utf8)
        bytes.append(0)
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 16)
        out.copyBytes(from: bytes)
        driver.withState {
            s.output?.deallocate()
            s.output = out
        }
        image.pointee = out.baseAddress
        size?.pointee = bytes.count
        return CUresult.success
    }
}

@_cdecl("cuLinkDestroy")
public func cuLinkDestroy(_ handle: UInt) -> Int32 {
    let driver = Driver.shared
    return driver.withState { driver.links.removeValue(forKey: handle) != nil ? CUresult.success : CUresult.invalidHandle }
}
