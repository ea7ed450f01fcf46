import TesseraSim

/// GPU models the simulator can pose as: the name and shape programs see.
struct SimulatedModel {
    var name: String
    var major: Int
    var minor: Int
    var sms: Int
    var clockKHz: Int

    static let models: [String: SimulatedModel] = [
        "h100": SimulatedModel(name: "NVIDIA H100 80GB HBM3 (Tessera simulated)", major: 9, minor: 0, sms: 132, clockKHz: 1_980_000),
        "a100": SimulatedModel(name: "NVIDIA A100-SXM4-80GB (Tessera simulated)", major: 8, minor: 0, sms: 108, clockKHz: 1_410_000),
        "l4": SimulatedModel(name: "NVIDIA L4 (Tessera simulated)", major: 8, minor: 9, sms: 58, clockKHz: 2_040_000),
        "t4": SimulatedModel(name: "Tesla T4 (Tessera simulated)", major: 7, minor: 5, sms: 40, clockKHz: 1_590_000),
    ]
    static var allNames: String { models.keys.sorted().joined(separator: ", ") }

    init(name: String, major: Int, minor: Int, sms: Int, clockKHz: Int) {
        self.name = name; self.major = major; self.minor = minor; self.sms = sms; self.clockKHz = clockKHz
    }

    init?(name: String) {
        guard let m = Self.models[name.lowercased()] else { return nil }
        self = m
    }

    func properties(memory: Int) -> DeviceProperties {
        DeviceProperties(name: name, totalMemory: memory, multiprocessorCount: sms, computeCapabilityMajor: major,
                         computeCapabilityMinor: minor, clockRateKHz: clockKHz)
    }
}
