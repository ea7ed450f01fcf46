/// Settings of the scheduler extender.
public struct ExtenderConfiguration: Sendable, Hashable {
    /// Resource and annotation names pods use.
    public var names: ResourceNames
    /// Memory of a vGPU when a container gives only the count, MiB.
    public var defaultMemoryMiB: Int
    /// Compute of a vGPU when a container gives only the count, percent.
    public var defaultComputePercent: Int
    /// Seconds a reservation may stay without its pod bound before it is released.
    public var unboundGraceSeconds: Double
    /// Seconds between reconciliations of reservations with the pods that exist.
    public var reconcileIntervalSeconds: Double

    public init(
        names: ResourceNames = .standard, defaultMemoryMiB: Int = 1024, defaultComputePercent: Int = 10,
        unboundGraceSeconds: Double = 60, reconcileIntervalSeconds: Double = 30
    ) {
        self.names = names
        self.defaultMemoryMiB = defaultMemoryMiB
        self.defaultComputePercent = defaultComputePercent
        self.unboundGraceSeconds = unboundGraceSeconds
        self.reconcileIntervalSeconds = reconcileIntervalSeconds
    }
}
