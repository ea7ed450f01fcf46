import Foundation

/// Where the build products and samples are, found from the test bundle's location (the build directory)
/// and this file's place in the package — never from machine paths.
enum Products {
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The directory holding `tessera` and the runtime libraries: next to the running test bundle when they are
    /// there, else the package's debug build.
    static let buildDirectory: URL = {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        // The bundle may be a directory (Foo.xctest/...); walk up to where `tessera` lives.
        for _ in 0..<4 {
            if FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("tessera").path) { return dir }
            dir = dir.deletingLastPathComponent()
        }
        return packageRoot.appendingPathComponent(".build/debug")
    }()

    static var tessera: URL { buildDirectory.appendingPathComponent("tessera") }

    /// samples/bin, built once per test run by samples/build.sh (which installs nvcc from PyPI if needed).
    static let samples: URL = {
        let script = packageRoot.appendingPathComponent("samples/build.sh").path
        let result = Command.run("/bin/bash", [script, buildDirectory.path], timeout: 900)
        precondition(result.status == 0, "building the CUDA samples failed:\n\(result.stderr)")
        return packageRoot.appendingPathComponent("samples/bin")
    }()

    static func sample(_ name: String) -> String { samples.appendingPathComponent(name).path }
}

/// A finished child process.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

enum Command {
    /// Runs a program to completion (killing it after `timeout` seconds) and collects its output.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:], timeout: Double = 120) -> CommandResult {
        let p = start(executable, arguments, environment: environment)
        return p.finish(timeout: timeout)
    }

    /// Starts a program; its environment is the test's plus `environment`, or only `environment` when
    /// `inheritingEnvironment` is false.
    static func start(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], inheritingEnvironment: Bool = true
    ) -> RunningCommand {
        RunningCommand(executable, arguments, environment: environment, inheritingEnvironment: inheritingEnvironment)
    }
}

/// A child process whose output goes to temporary files (pipes could fill up and stall it).
final class RunningCommand: @unchecked Sendable {
    let process = Process()
    private let out: URL
    private let err: URL

    /// With `addingTestCA` (the default) an inheriting child also gets `TESSERA_CA` = the tests' CA
    /// (``TestCA``) unless `environment` names one (an empty value unsets it).
    init(_ executable: String, _ arguments: [String], environment: [String: String], inheritingEnvironment: Bool = true,
         addingTestCA: Bool = true) {
        let dir = FileManager.default.temporaryDirectory
        out = dir.appendingPathComponent("tessera-test-\(UUID().uuidString).out")
        err = dir.appendingPathComponent("tessera-test-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = inheritingEnvironment ? ProcessInfo.processInfo.environment : [:]
        if inheritingEnvironment && addingTestCA { env["TESSERA_CA"] = TestCA.shared.ca }
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardOutput = try? FileHandle(forWritingTo: out)
        process.standardError = try? FileHandle(forWritingTo: err)
        do { try process.run() } catch { preconditionFailure("cannot start \(executable): \(error)") }
    }

    var pid: Int32 { process.processIdentifier }
    var stdout: String { (try? String(contentsOf: out, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOf: err, encoding: .utf8)) ?? "" }

    /// Waits until the output contains `text`, or `timeout` seconds pass.
    func waitForOutput(_ text: String, timeout: Double = 60) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if stdout.contains(text) { return true }
            if !process.isRunning { return stdout.contains(text) }
            usleep(10_000)
        }
        return false
    }

    func finish(timeout: Double = 120) -> CommandResult {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(5_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        return CommandResult(status: process.terminationStatus, stdout: stdout, stderr: stderr)
    }
}
