import ArgumentParser

/// The single entry point for every Tessera command.
@main
struct Tessera: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tessera",
        abstract: "Virtual GPUs of any size, pooled across a cluster.",
        subcommands: [
            NodeCommand.self, RunCommand.self, PlacementCommand.self, ControllerCommand.self,
            UpCommand.self, DemoCommand.self, StatusCommand.self, NodesCommand.self, GPUsCommand.self, LeasesCommand.self, ReservationsCommand.self, TopCommand.self,
            CordonCommand.self, UncordonCommand.self, DrainCommand.self, EndLeaseCommand.self, TokensCommand.self,
            GroupsCommand.self, QueueCommand.self, UsageCommand.self,
            SchedulerCommand.self, WorkerCommand.self,
        ]
    )
}
