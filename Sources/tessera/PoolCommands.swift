import ArgumentParser
import Foundation
import TesseraPoolAPI

/// Runs a CLI action, turning pool errors into one line on stderr and exit status 1.
func reportingErrors(_ body: () async throws -> Void) async throws {
    do { try await body() } catch let error as PoolError {
        FileHandle.standardError.write(Data("tessera: \(error.message)\n".utf8))
        throw ExitCode(1)
    }
}

func mib(_ v: Int) -> String { v >= 1024 && v % 1024 == 0 ? "\(v / 1024) GiB" : "\(v) MiB" }

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Summary of the pool.")
    @OptionGroup var pool: PoolOptions
    @Option(name: .shortAndLong, help: "table or json") var output: OutputFormat = .table
    func run() async throws {
        try await reportingErrors {
            let s: PoolSummary = try await pool.client().get("/v1/status")
            if output == .json { return try printJSON(s) }
            print("nodes: \(s.nodesUp) up, \(s.nodesDown) down; GPUs: \(s.gpus); policy: \(s.policy)")
            print("memory granted: \(mib(s.grantedMemoryMiB)) of \(mib(s.memoryMiB)); compute granted: \(s.grantedComputePercent) % of \(s.computePercent) %")
            print("leases: \(s.leases); reservations: \(s.reservations)")
        }
    }
}

struct NodesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "nodes", abstract: "Nodes of the pool.")
    @OptionGroup var pool: PoolOptions
    @Option(name: .shortAndLong, help: "table or json") var output: OutputFormat = .table
    func run() async throws {
        try await reportingErrors {
            let nodes: [NodeInfo] = try await pool.client().get("/v1/nodes")
            if output == .json { return try printJSON(nodes) }
            let now = Date().timeIntervalSince1970
            printTable(["NODE", "STATE", "GPUS", "SESSIONS", "ENDPOINT", "LAST HEARTBEAT"], nodes.map {
                [$0.name, $0.state.rawValue, "\($0.gpus)", "\($0.sessions)", $0.endpoint ?? "-", String(format: "%.1f s ago", now - $0.lastHeartbeat)]
            })
        }
    }
}

struct GPUsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gpus", abstract: "GPUs of the pool with what is granted and used.")
    @OptionGroup var pool: PoolOptions
    @Option(name: .shortAndLong, help: "table or json") var output: OutputFormat = .table
    func run() async throws {
        try await reportingErrors {
            let gpus: [GPUInfo] = try await pool.client().get("/v1/gpus")
            if output == .json { return try printJSON(gpus) }
            printTable(["NODE", "GPU", "MODEL", "MEMORY", "GRANTED", "USED", "COMPUTE GRANTED", "STATE"], gpus.map {
                [$0.node, "\($0.index)", $0.model, mib($0.memoryMiB), mib($0.grantedMemoryMiB), mib($0.usedMemoryMiB),
                 "\($0.grantedComputePercent) %", $0.nodeUp ? ($0.healthy ? "ok" : "unhealthy") : "node down"]
            })
        }
    }
}

struct LeasesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "leases", abstract: "Leases: which slices serve which session.")
    @OptionGroup var pool: PoolOptions
    @Option(name: .shortAndLong, help: "table or json") var output: OutputFormat = .table
    func run() async throws {
        try await reportingErrors {
            let leases: [Lease] = try await pool.client().get("/v1/leases")
            if output == .json { return try printJSON(leases) }
            printTable(["LEASE", "REQUESTER", "PROGRAM", "OWNER", "VGPUS"], leases.map { l in
                [l.id, l.requester, l.program.isEmpty ? "-" : l.program, l.owner.isEmpty ? "-" : l.owner,
                 l.vgpus.map { "\($0.node)/\($0.gpu):\(mib($0.memoryMiB)),\($0.computePercent)%" }.joined(separator: " ")]
            })
        }
    }
}

struct ReservationsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reservations", abstract: "Capacity held for named consumers.")
    @OptionGroup var pool: PoolOptions
    @Option(name: .shortAndLong, help: "table or json") var output: OutputFormat = .table
    func run() async throws {
        try await reportingErrors {
            let rs: [Reservation] = try await pool.client().get("/v1/reservations")
            if output == .json { return try printJSON(rs) }
            let now = Date().timeIntervalSince1970
            printTable(["RESERVATION", "CONSUMER", "VGPUS", "CLAIMED BY", "EXPIRES"], rs.map { r in
                [r.id, r.displayName.map { "\(r.consumer) (\($0))" } ?? r.consumer, r.vgpus.map { "\($0.node)/\($0.gpu):\(mib($0.memoryMiB)),\($0.computePercent)%" }.joined(separator: " "),
                 r.claimedBy ?? "-", r.expiresAt.map { String(format: "in %.0f s", $0 - now) } ?? "never"]
            })
        }
    }
}

/// `tessera top`: the pool live, refreshed in place like nvidia-smi or htop.
struct TopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "top", abstract: "Live view of GPUs and vGPU sessions.")
    @OptionGroup var pool: PoolOptions
    @Option(help: "Seconds between refreshes.") var interval: Double = 1
    @Option(help: "Stop after this many refreshes (default: until interrupted).") var count: Int?
    @Option(name: .shortAndLong, help: "table or json (one snapshot a line)") var output: OutputFormat = .table

    /// One read of the pool (`GET /v1/snapshot`): the header, GPUs and sessions always agree.
    typealias Snapshot = PoolSnapshot

    func run() async throws {
        try await reportingErrors {
            let client = try pool.client()
            var n = 0
            while count.map({ n < $0 }) ?? true {
                let snap: PoolSnapshot = try await client.get("/v1/snapshot")
                if output == .json {
                    let e = JSONEncoder(); e.outputFormatting = [.sortedKeys]
                    print(String(decoding: try e.encode(snap), as: UTF8.self))
                } else {
                    print(TopCommand.render(snap), terminator: "")
                }
                fflush(nil)
                n += 1
                if count.map({ n < $0 }) ?? true { try await Task.sleep(for: .milliseconds(Int(interval * 1000))) }
            }
        }
    }

    static func bar(_ fraction: Double, width: Int = 20) -> String {
        let filled = max(0, min(width, Int((fraction * Double(width)).rounded())))
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
    }

    static func render(_ s: Snapshot) -> String {
        var out = "\u{1B}[H\u{1B}[2J"
        let time = DateFormatter.localizedString(from: Date(timeIntervalSince1970: s.time), dateStyle: .none, timeStyle: .medium)
        let vgpus = s.leases.reduce(0) { $0 + $1.vgpus.count }
        out += "tessera top — \(time) — \(s.summary.nodesUp) nodes up, \(s.summary.nodesDown) down, \(s.summary.gpus) GPUs, "
        out += "\(s.summary.leases) leases (\(vgpus) vGPUs), \(s.sessions.count) sessions, \(s.refusals) refused, policy \(s.summary.policy)\n\n"
        out += "NODE/GPU      MODEL           MEMORY granted / used                        COMPUTE granted, busy\n"
        for g in s.gpus {
            let name = "\(g.node)/\(g.index)".padding(toLength: 13, withPad: " ", startingAt: 0)
            let model = g.model.padding(toLength: 15, withPad: " ", startingAt: 0)
            out += "\(name) \(model) \(bar(Double(g.grantedMemoryMiB) / Double(max(1, g.memoryMiB)))) \(mib(g.grantedMemoryMiB))/\(mib(g.memoryMiB)) used \(mib(g.usedMemoryMiB))"
            out += "   \(bar(Double(g.grantedComputePercent) / 100, width: 10)) \(g.grantedComputePercent) %"
            out += String(format: " busy %.0f %%", g.utilizationPercent) + (g.nodeUp ? "" : "  (node down)") + (g.cordoned == true ? "  (cordoned)" : "") + "\n"
        }
        out += "\nSESSION        NODE        PROGRAM               PID     UID    LEASE        VGPUS                         MEMORY USED  COMPUTE USED  PAGING\n"
        let leases = Dictionary(s.leases.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for x in s.sessions {
            let l = x.report.lease.flatMap { leases[$0] }
            let vgpus = l?.vgpus.map { "\($0.node)/\($0.gpu) \(mib($0.memoryMiB)) \($0.computePercent)%" }.joined(separator: ", ") ?? "-"
            // Pool-wide: NODE:SESSION (each node numbers its own sessions).
            let cells = [x.id.padding(toLength: max(14, x.id.count), withPad: " ", startingAt: 0),
                         x.node.padding(toLength: 11, withPad: " ", startingAt: 0),
                         String(x.report.program.prefix(21)).padding(toLength: 21, withPad: " ", startingAt: 0),
                         "\(x.report.pid)".padding(toLength: 7, withPad: " ", startingAt: 0),
                         "\(x.report.uid)".padding(toLength: 6, withPad: " ", startingAt: 0),
                         (x.report.lease ?? "-").padding(toLength: 12, withPad: " ", startingAt: 0),
                         vgpus.padding(toLength: 29, withPad: " ", startingAt: 0), mib(x.report.usedMemoryMiB).padding(toLength: 12, withPad: " ", startingAt: 0),
                         (x.report.utilizationPercent.isEmpty ? "-" : x.report.utilizationPercent.map { String(format: "%.0f%%", $0) }.joined(separator: ", "))
                             .padding(toLength: 13, withPad: " ", startingAt: 0),
                         pagingCell(x.report.paging)]
            out += cells.joined(separator: " ") + "\n"
        }
        if s.sessions.isEmpty { out += "(no sessions)\n" }
        return out
    }

    /// The PAGING cell: "-" on a node that does not page; else the state, what is paged out and the last times.
    static func pagingCell(_ p: SessionPaging?) -> String {
        guard let p else { return "-" }
        var cell = p.state
        if p.pagedMiB > 0 { cell += " \(mib(p.pagedMiB))" }
        if p.pageOuts > 0 { cell += String(format: " out %.2fs", p.lastPageOutSeconds) }
        if p.pageIns > 0 { cell += String(format: " in %.2fs", p.lastPageInSeconds) }
        return cell + String(format: " (idle %.0fs)", p.idleSeconds)
    }
}
