import Foundation

/// Runs the limit table's one-block shapes in a child process confined to one core.
///
/// Why: a one-block program alternates two threads (the program's, which launches and synchronises, and its
/// stream's worker, which runs the kernel), each waking the other at every batch. On this 2-core VM the host
/// sometimes places them on different cores, and a wake-up across cores then costs 100 µs or more; runs that
/// alternate with a 75 % limited run met that more often, so the unlimited baseline lost 3–5 % of its time to
/// it and the limited run about 1 %, which showed as +3 to +4 pp of error. On one core both runs wake their
/// threads alike. The multi-block shape needs every core and runs as is.
enum OneCore {
    /// The table rows of shape `shape` (1-based), measured by this executable in a child confined to core 0 by
    /// `taskset` (util-linux), so that every thread it makes is confined too.
    static func rows(shape: Int, iterations: Int, arguments: [String]) throws -> String {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        var passed = ["taskset", "-c", "0", executable, "--limit-only", "--child", "--shapes", String(shape), "--iterations", String(iterations)]
        for name in ["--seconds", "--rounds", "--limits"] {
            if let i = arguments.firstIndex(of: name), i + 1 < arguments.count { passed += [name, arguments[i + 1]] }
        }
        if arguments.contains("--each-round") { passed.append("--each-round") }
        child.arguments = passed
        let output = Pipe()
        child.standardOutput = output
        try child.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        child.waitUntilExit()
        guard child.terminationStatus == 0 else { throw OneCoreError(message: "the one-core run of shape \(shape) exited with \(child.terminationStatus)") }
        return String(decoding: data, as: UTF8.self)
    }
}

struct OneCoreError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
