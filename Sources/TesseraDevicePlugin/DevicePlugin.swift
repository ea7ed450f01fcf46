import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import ServiceLifecycle
import TesseraKubernetes

/// The node's kubelet device plugin (API v1beta1): advertises `tessera.dev/vgpu` with one device ID per vGPU
/// the node may host and tells the kubelet what each admitted container needs to use Tessera.
///
/// Runs as a ServiceLifecycle `Service`, in generations: wait for the kubelet's socket, serve the plugin's own
/// socket, *then* register; watch both sockets, and when the kubelet restarts (it deletes every socket in the
/// folder and creates `kubelet.sock` again) end the generation and start the next one, re-registering within
/// a poll interval or two. Graceful shutdown ends the open `ListAndWatch` streams, stops serving and removes
/// the socket.
public final class DevicePlugin: Service, Sendable {
    public let configuration: DevicePluginConfiguration
    /// Devices, health and watchers; the node reports GPU health here (``setHealth(ofGPU:healthy:)``).
    public let registry: DeviceRegistry
    /// How often the sockets are checked: bounds how fast a kubelet restart is noticed.
    public let pollInterval: Duration
    /// Asks whether a GPU works (e.g. the node's backend); polled every ``healthInterval`` when given.
    public let healthProbe: (@Sendable (_ gpu: Int) -> Bool)?
    public let healthInterval: Duration
    let logger: Logger

    /// A plugin for a node with `gpuCount` GPUs. With a `healthProbe`, the plugin polls each GPU's health and
    /// reports changes itself; without one, the node reports them through ``setHealth(ofGPU:healthy:)``.
    public init(
        gpuCount: Int, configuration: DevicePluginConfiguration, pollInterval: Duration = .milliseconds(250),
        healthProbe: (@Sendable (_ gpu: Int) -> Bool)? = nil, healthInterval: Duration = .seconds(5), logger: Logger
    ) {
        self.configuration = configuration
        self.registry = DeviceRegistry(gpuCount: gpuCount, configuration: configuration)
        self.pollInterval = pollInterval
        self.healthProbe = healthProbe
        self.healthInterval = healthInterval
        self.logger = logger
    }

    /// Reports GPU `index` healthy or not; the kubelet hears of a change through `ListAndWatch` at once
    /// (its device IDs turn `Unhealthy`, and it stops admitting pods onto them).
    @discardableResult
    public func setHealth(ofGPU index: Int, healthy: Bool) -> Bool {
        let changed = registry.setHealth(ofGPU: index, healthy: healthy)
        if changed { logger.notice("GPU \(index) is now \(healthy ? "healthy" : "unhealthy"); telling the kubelet") }
        return changed
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                if let probe = self.healthProbe {
                    group.addTask { await self.pollHealth(probe) }
                }
                while !Task.isCancelled {
                    guard let kubelet = await self.waitForKubelet() else { break }
                    await self.serveGeneration(kubelet: kubelet)
                }
                group.cancelAll()
            }
        }
        logger.info("device plugin stopped")
    }

    /// Asks `probe` about every GPU, now and every ``healthInterval``, until cancelled.
    private func pollHealth(_ probe: @Sendable (Int) -> Bool) async {
        while !Task.isCancelled {
            for gpu in 0..<registry.devices.gpuCount { setHealth(ofGPU: gpu, healthy: probe(gpu)) }
            try? await Task.sleep(for: healthInterval)
        }
    }

    /// Polls until `kubelet.sock` exists; `nil` when cancelled first.
    private func waitForKubelet() async -> SocketFileIdentity? {
        var logged = false
        while !Task.isCancelled {
            if let identity = SocketFileIdentity(path: configuration.kubeletSocket) { return identity }
            if !logged {
                logger.info("waiting for the kubelet's socket \(configuration.kubeletSocket)")
                logged = true
            }
            try? await Task.sleep(for: pollInterval)
        }
        return nil
    }

    /// Serves, registers, and watches until the kubelet restarts, registration fails, or cancellation.
    private func serveGeneration(kubelet: SocketFileIdentity) async {
        let socket = configuration.pluginSocket
        let transport = HTTP2ServerTransport.Posix(address: .unixDomainSocket(path: socket), transportSecurity: .plaintext)
        let server = GRPCServer(transport: transport, services: [DevicePluginHandler(registry: registry)])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [logger] in
                do {
                    try await server.serve()
                } catch where !Task.isCancelled {
                    logger.error("device plugin server on \(socket) failed: \(error)")
                } catch {}
            }
            var retryAfterFailure = false
            do {
                _ = try await transport.listeningAddress  // serve before registering
                logger.info("device plugin serving on \(socket)")
                try await register()
                logger.info("registered \(configuration.resourceName) (\(registry.devices.devices.count) devices) with the kubelet at \(configuration.kubeletSocket)")
                await watchSockets(kubelet: kubelet)
            } catch is CancellationError {
            } catch {
                logger.warning("device plugin generation failed, retrying: \(error)")
                retryAfterFailure = true
            }
            registry.finishAllWatchers()
            server.beginGracefulShutdown()
            registry.finishAllWatchers()  // a stream opened while the server was stopping
            // Give open calls a moment to finish, then cancel whatever is left.
            group.addTask { try? await Task.sleep(for: .seconds(3)) }
            _ = await group.next()
            group.cancelAll()
            await group.waitForAll()
            if retryAfterFailure { try? await Task.sleep(for: .seconds(1)) }
        }
        // The kubelet removes it on restart; remove it ourselves otherwise (a stale file would mislead).
        unlinkFile(socket)
    }

    /// `Register` with the kubelet: version, the socket's base name, the resource, the options.
    private func register() async throws {
        let request = V1beta1_RegisterRequest.with {
            $0.version = "v1beta1"
            $0.endpoint = configuration.pluginEndpoint
            $0.resourceName = configuration.resourceName
            $0.options = DevicePluginHandler.options
        }
        var options = CallOptions.defaults
        options.timeout = .seconds(10)
        options.waitForReady = false
        let transport = try HTTP2ClientTransport.Posix(
            target: .unixDomainSocket(path: configuration.kubeletSocket), transportSecurity: .plaintext)
        try await withGRPCClient(transport: transport) { client in
            _ = try await V1beta1_Registration.Client(wrapping: client).register(request, options: options)
        }
    }

    /// Returns when the kubelet's socket is replaced or gone, or the plugin's own socket is deleted.
    private func watchSockets(kubelet: SocketFileIdentity) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: pollInterval)
            guard !Task.isCancelled else { return }
            if SocketFileIdentity(path: configuration.kubeletSocket) != kubelet {
                logger.notice("the kubelet's socket was deleted or recreated: the kubelet restarted; registering again")
                return
            }
            if SocketFileIdentity(path: configuration.pluginSocket) == nil {
                logger.notice("the plugin's socket \(configuration.pluginSocket) was deleted; serving and registering again")
                return
            }
        }
    }
}
