import Foundation
import TesseraDevicePlugin

/// A fresh kubelet folder (`device-plugins/`, `pod-resources/`) in a temporary directory, removed afterwards.
public final class KubeletDirectory: Sendable {
    public let path: String

    public init() throws {
        // Short: unix socket paths are limited to 107 bytes.
        path = FileManager.default.temporaryDirectory.appendingPathComponent("tdp-\(UUID().uuidString.prefix(8))").path
        for sub in ["device-plugins", "pod-resources"] {
            try FileManager.default.createDirectory(atPath: "\(path)/\(sub)", withIntermediateDirectories: true)
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    public func exists(_ relative: String) -> Bool { FileManager.default.fileExists(atPath: "\(path)/\(relative)") }
    public func remove(_ relative: String) { try? FileManager.default.removeItem(atPath: "\(path)/\(relative)") }
}

/// Runs `body` with a kubelet stand-in serving `directory` (stopped afterwards), both on the
/// ``StandInExecutor``.
public func withKubelet<T: Sendable>(
    _ directory: String, podResources: [V1_PodResources] = [], _ body: (KubeletStandIn) async throws -> T
) async throws -> T {
    let kubelet = KubeletStandIn(kubeletDirectory: directory)
    kubelet.record.withLock { $0.podResources = podResources }
    return try await withTaskExecutorPreference(StandInExecutor.shared) {
        try await serve(kubelet, body)
    }
}

private func serve<T: Sendable>(_ kubelet: KubeletStandIn, _ body: (KubeletStandIn) async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await kubelet.run() }
        defer { group.cancelAll() }
        // Like the real kubelet, it is there once its sockets are (bounded generously; not a speed requirement).
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(120))
        while clock.now < deadline, ![kubelet.registrationSocket, kubelet.podResourcesSocket].allSatisfy({ FileManager.default.fileExists(atPath: $0) }) {
            try await Task.sleep(for: .milliseconds(20))
        }
        return try await body(kubelet)
    }
}
