import ArgumentParser
import TesseraPlacement

/// `tessera placement …`: the placement engine's offline tools.
struct PlacementCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "placement",
        abstract: "Placement policies: replay traces to compare them.",
        subcommands: [Replay.self]
    )

    /// `tessera placement replay`: replays an openb-format trace with the FGD paper's protocol.
    struct Replay: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replay a trace (openb CSV format) and report GPU allocation and fragmentation.",
            discussion: """
                Per seed: shuffle the pods, append pods drawn with replacement until the GPU request reaches \
                --load × capacity, place them one by one (no departures; a pod that fits nowhere fails). \
                Reports allocation binned by arrived GPU request, unallocated GPU % at 100 % and 130 %, \
                and FGD's fragmentation measure.
                """
        )

        @Option(help: "Node list CSV (sn,cpu_milli,memory_mib,gpu,model); only GPU nodes are used.")
        var nodes: String

        @Option(help: "Pod list CSV (name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec,…]).")
        var pods: String

        @Option(help: "Placement policy: \(ScoringPolicy.allCases.map(\.rawValue).joined(separator: ", ")).")
        var policy: String = ScoringPolicy.tessera.rawValue

        @Option(help: "Seeds: a number, a range like 42-51, or a comma-separated list.")
        var seeds: String = "42-51"

        @Option(help: "Stop arrivals at this multiple of the GPU capacity.")
        var load: Double = 1.3

        @Flag(help: "Print one JSON object instead of text.")
        var json = false

        func run() throws {
            let configuration = ReplayConfiguration(
                policy: try ScoringPolicy(name: policy),
                seeds: try ReplayConfiguration.parseSeeds(seeds),
                targetLoad: load)
            let trace = try OpenbTrace(nodesFile: nodes, podsFile: pods)
            let report = try TraceReplay(trace: trace, configuration: configuration).run()
            print(json ? report.json : report.text)
        }
    }
}
