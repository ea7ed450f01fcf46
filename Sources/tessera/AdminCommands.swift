import ArgumentParser
import Foundation
import TesseraPoolAPI

/// `tessera cordon|uncordon|drain NODE[/GPU]`: administrators' actions on a node or one of its GPUs.
struct NodeActionCommand {
    /// The API path of `action` on `target` (`NODE` or `NODE/GPU`).
    static func path(_ action: String, _ target: String) throws -> String {
        let parts = target.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard (1...2).contains(parts.count), !parts[0].isEmpty, parts.count == 1 || Int(parts[1]) != nil else {
            throw ValidationError("the target is NODE or NODE/GPU (a GPU's index), got '\(target)'")
        }
        let node = parts[0].addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? parts[0]
        return parts.count == 1 ? "/v1/nodes/\(node)/\(action)" : "/v1/nodes/\(node)/gpus/\(parts[1])/\(action)"
    }

    static func run(_ action: String, _ target: String, pool: PoolOptions, output: OutputFormat) async throws {
        let path = try path(action, target)
        try await reportingErrors {
            let reply: AdminActionReply = try await pool.client().post(path, [String: String]())
            if output == .json { return try printJSON(reply) }
            print(reply.message)
            if !reply.endedLeases.isEmpty { print("ended: \(reply.endedLeases.joined(separator: " "))") }
        }
    }
}

struct CordonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cordon", abstract: "Place no new vGPUs on a node or GPU (what runs there keeps running). Needs an admin token.")
    @Argument(help: "NODE or NODE/GPU") var target: String
    @OptionGroup var pool: PoolOptions
    @Option(name: .shortAndLong, help: "table or json") var output: OutputFormat = .table
    func run() async throws { try await NodeActionCommand.run("cordon", target, pool: pool, output: output) }
}

struct UncordonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uncordon", abstract: "Place vGPUs on a cordoned node or GPU again (a node: its GPUs too). Needs an admin token.")
    @Argument(help: "NODE or NODE/GPU") var target: String
    @OptionGroup var pool: PoolOptions
    @Option(name: .shortAndLong, help: "table or json") var output: OutputFormat = .table
    func run() async throws { try await NodeActionCommand.run("uncordon", target, pool: pool, output: output) }
}

struct DrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain", abstract: "Cordon a node or GPU and end every lease with a vGPU there. Needs an admin token.")
    @Argument(help: "NODE or NODE/GPU") var target: String
    @OptionGroup var pool: PoolOptions
    @Option(name: .shortAndLong, help: "table or json") var output: OutputFormat = .table
    func run() async throws { try await NodeActionCommand.run("drain", target, pool: pool, output: output) }
}

struct EndLeaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "end", abstract: "End a lease: its node ends the session on its next heartbeat. Needs an admin token.")
    @Argument(help: "The lease id (tessera leases)") var lease: String
    @OptionGroup var pool: PoolOptions
    @Option(name: .shortAndLong, help: "table or json") var output: OutputFormat = .table
    func run() async throws {
        guard !lease.isEmpty, !lease.contains("/") else { throw ValidationError("'\(lease)' is not a lease id") }
        try await reportingErrors {
            let reply: AdminActionReply = try await pool.client().post("/v1/leases/\(lease)/end", [String: String]())
            if output == .json { return try printJSON(reply) }
            print(reply.message)
        }
    }
}
