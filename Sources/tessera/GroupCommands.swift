import ArgumentParser
import Foundation
import TesseraPoolAPI
import Yams

/// `tessera groups`: courses and teams with quotas; `tessera groups apply -f groups.yaml` defines them.
struct GroupsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "groups", abstract: "Groups with their quotas and what they hold.",
        discussion: """
            A group's members (unix users by uid or name, Kubernetes namespaces, pod label selectors) share its \
            quota (memory, compute %, vGPUs); requests beyond it wait (tessera run --wait) or are refused, naming \
            the group and the limit.
            """,
        subcommands: [GroupsListCommand.self, GroupsApplyCommand.self], defaultSubcommand: GroupsListCommand.self)
}

struct GroupsListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Groups with quota and usage.")
    @OptionGroup var pool: PoolOptions
    @Option(name: .shortAndLong, help: "table or json") var output: OutputFormat = .table
    func run() async throws {
        try await reportingErrors {
            let groups: [GroupInfo] = try await pool.client().get("/v1/groups")
            if output == .json { return try printJSON(groups) }
            func amount(_ used: Int, _ limit: Int?, _ unit: (Int) -> String) -> String { "\(unit(used)) / \(limit.map(unit) ?? "-")" }
            printTable(["GROUP", "PRIORITY", "MEMORY", "COMPUTE", "VGPUS", "WAITING", "MEMBERS"], groups.map { g in
                let m = g.group.members
                let members = m.users.map { "user:\($0)" } + m.namespaces.map { "namespace:\($0)" }
                    + m.podSelectors.map { "pods:" + $0.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }
                return [g.group.name, "\(g.group.priority)", amount(g.used.memoryMiB, g.group.quota.memoryMiB, mib),
                        amount(g.used.computePercent, g.group.quota.computePercent) { "\($0) %" },
                        amount(g.used.vgpus, g.group.quota.vgpus) { "\($0)" }, "\(g.waiting)",
                        members.isEmpty ? "-" : members.joined(separator: " ")]
            })
        }
    }
}

struct GroupsApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply", abstract: "Define the pool's groups from a YAML (or JSON) file; groups it leaves out are deleted.",
        discussion: """
            groups:
              - name: cs101
                priority: 10
                members: {users: [alice, "1001"], namespaces: [cs101], podSelectors: [{course: cs101}]}
                quota: {memoryMiB: 8192, computePercent: 200, vgpus: 16}
                memberLimit: {memoryMiB: 2048, vgpus: 2}
            """)
    @OptionGroup var pool: PoolOptions
    @Option(name: .shortAndLong, help: "The groups file (- for stdin).") var file: String
    @Option(name: .shortAndLong, help: "table or json") var output: OutputFormat = .table
    func run() async throws {
        try await reportingErrors {
            let data: Data
            if file == "-" { data = FileHandle.standardInput.readDataToEndOfFile() } else {
                guard let d = FileManager.default.contents(atPath: file) else { throw PoolError(.invalidRequest, "cannot read \(file)") }
                data = d
            }
            let document: GroupsDocument
            do { document = try YAMLDecoder().decode(GroupsDocument.self, from: data) } catch {
                throw PoolError(.invalidRequest, "\(file) is not a groups document (groups: [{name, members, quota, memberLimit, priority}]): \(error)")
            }
            let groups: [GroupInfo] = try await pool.client().put("/v1/groups", document)
            if output == .json { return try printJSON(groups) }
            print("applied \(groups.count) group(s): \(groups.map(\.group.name).joined(separator: ", "))")
        }
    }
}

/// `tessera queue`: requests waiting for room, by position in their group.
struct QueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "queue", abstract: "Requests waiting for room (tessera run --wait).")
    @OptionGroup var pool: PoolOptions
    @Option(name: .shortAndLong, help: "table or json") var output: OutputFormat = .table
    func run() async throws {
        try await reportingErrors {
            let entries: [QueueEntry] = try await pool.client().get("/v1/queue")
            if output == .json { return try printJSON(entries) }
            let now = Date().timeIntervalSince1970
            printTable(["ID", "GROUP", "POSITION", "STATE", "PROGRAM", "OWNER", "ASKED", "WAITING", "REASON"], entries.map { e in
                [e.id, e.group.isEmpty ? "-" : e.group, "\(e.position)", e.state.rawValue, e.program.isEmpty ? "-" : e.program,
                 e.owner.isEmpty ? "-" : e.owner,
                 "\(e.spec.vgpus)×\(mib(e.spec.memoryMiB)),\(e.spec.computePercent == 0 ? "best effort" : "\(e.spec.computePercent)%")",
                 String(format: "%.1f s of %.0f s", now - e.since, e.deadline - e.since), e.reason]
            })
        }
    }
}

/// `tessera usage`: GPU-memory-hours and compute-hours per user and group.
struct UsageCommand: AsyncParsableCommand {
    enum Format: String, ExpressibleByArgument, CaseIterable { case table, json, csv }
    static let configuration = CommandConfiguration(
        commandName: "usage", abstract: "GPU memory-hours and compute-hours per user and group, from the lease history.")
    @OptionGroup var pool: PoolOptions
    @Option(help: "From when: seconds since 1970, 2026-12-01, 2026-12-01T10:00:00Z, or an age like 24h or 7d (default: all).")
    var since: String?
    @Option(help: "Only this group.") var group: String?
    @Option(name: .shortAndLong, help: "table, csv or json") var output: Format = .table
    func run() async throws {
        try await reportingErrors {
            // Dates and ages travel as they are written (`-`, `:` and `.` need no escaping in a query).
            let safe = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~:"))
            var query: [String] = []
            if let since { query.append("since=\(since.addingPercentEncoding(withAllowedCharacters: safe) ?? since)") }
            if let group { query.append("group=\(group.addingPercentEncoding(withAllowedCharacters: safe) ?? group)") }
            let rows: [UsageRow] = try await pool.client().get("/v1/usage" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))
            switch output {
            case .json: try printJSON(rows)
            case .csv:
                print("group,user,memory_gib_hours,compute_hours,leases")
                for r in rows { print("\(csv(r.group)),\(csv(r.user)),\(String(format: "%.6f", r.memoryGiBHours)),\(String(format: "%.6f", r.computeHours)),\(r.leases)") }
            case .table:
                printTable(["GROUP", "USER", "MEMORY GiB-HOURS", "COMPUTE HOURS", "LEASES"], rows.map { r in
                    [r.group.isEmpty ? "-" : r.group, r.user.isEmpty ? "-" : r.user, String(format: "%.4f", r.memoryGiBHours),
                     String(format: "%.4f", r.computeHours), "\(r.leases)"]
                })
            }
        }
    }

    private func csv(_ field: String) -> String {
        field.contains(where: { ",\"\n".contains($0) }) ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
    }
}
