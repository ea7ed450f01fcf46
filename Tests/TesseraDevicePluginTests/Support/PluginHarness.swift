import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import ServiceLifecycle
import TesseraDevicePlugin
import TesseraKubernetes
import TesseraTestSupport

/// Runs `body` with the real device plugin serving in a ServiceGroup, shut down gracefully afterwards.
func withPlugin<T: Sendable>(
    _ plugin: DevicePlugin, _ body: (DevicePlugin) async throws -> T
) async throws -> T {
    let group = ServiceGroup(services: [plugin], logger: Logger(label: "test.service-group"))
    return try await withTaskExecutorPreference(StandInExecutor.shared) {
        try await run(group, plugin, body)
    }
}

private func run<T: Sendable>(
    _ group: ServiceGroup, _ plugin: DevicePlugin, _ body: (DevicePlugin) async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        do {
            let result = try await body(plugin)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return result
        } catch {
            await group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            throw error
        }
    }
}

/// Calls the plugin on its socket as the kubelet does.
func withPluginClient<T: Sendable>(
    _ configuration: DevicePluginConfiguration,
    _ body: (V1beta1_DevicePlugin.Client<HTTP2ClientTransport.Posix>) async throws -> T
) async throws -> T {
    let transport = try HTTP2ClientTransport.Posix(
        target: .unixDomainSocket(path: configuration.pluginSocket), transportSecurity: .plaintext)
    return try await withGRPCClient(transport: transport) { client in
        try await body(V1beta1_DevicePlugin.Client(wrapping: client))
    }
}

/// `(id, health)` of each device, for exact comparisons.
func summary(_ devices: [V1beta1_Device]?) -> [String] {
    (devices ?? []).map { "\($0.id)=\($0.health)" }
}

var testLogger: Logger {
    var logger = Logger(label: "test.device-plugin")
    logger.logLevel = .debug
    return logger
}
