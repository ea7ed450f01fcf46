import Synchronization
import TesseraKubernetes

/// The advertised vGPU devices, their health, and the open `ListAndWatch` streams that must hear of every
/// change: the device plugin's shared state, free of I/O.
///
/// A health change that alters the list is delivered to every watcher; a watcher that has not yet consumed an
/// older list only sees the newest one (the kubelet wants the current state, not the history).
public final class DeviceRegistry: Sendable {
    /// One watcher's stream of device lists.
    public typealias Updates = AsyncStream<[VGPUDevices.Device]>

    struct State {
        var devices: VGPUDevices
        var watchers: [UInt64: Updates.Continuation] = [:]
        var nextWatcherID: UInt64 = 1
    }

    private let state: Mutex<State>

    /// `gpuCount` GPUs, `configuration.vgpusPerGPU` device IDs each, all healthy.
    public init(gpuCount: Int, configuration: DevicePluginConfiguration) {
        state = Mutex(State(devices: VGPUDevices(gpuCount: gpuCount, configuration: configuration)))
    }

    /// The pure device logic in its current state (health included).
    public var devices: VGPUDevices { state.withLock { $0.devices } }

    /// Marks GPU `index` healthy or unhealthy. When that changes the list, every open `ListAndWatch` stream
    /// receives the new list; returns whether it changed. Indices outside the node's GPUs change nothing.
    @discardableResult
    public func setHealth(ofGPU index: Int, healthy: Bool) -> Bool {
        let (changed, list, watchers) = state.withLock { s -> (Bool, [VGPUDevices.Device], [Updates.Continuation]) in
            guard (0..<s.devices.gpuCount).contains(index), s.devices.setHealth(ofGPU: index, healthy: healthy) else {
                return (false, [], [])
            }
            return (true, s.devices.devices, Array(s.watchers.values))
        }
        for watcher in watchers { watcher.yield(list) }
        return changed
    }

    /// Opens a stream that starts with the current list and then carries every changed list, until
    /// ``finishAllWatchers()`` or the consumer stops iterating.
    public func watch() -> Updates {
        let (stream, continuation) = Updates.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = state.withLock { s -> UInt64 in
            let id = s.nextWatcherID
            s.nextWatcherID += 1
            s.watchers[id] = continuation
            continuation.yield(s.devices.devices)
            return id
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { _ = $0.watchers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Number of open watchers (a `ListAndWatch` stream each).
    public var watcherCount: Int { state.withLock { $0.watchers.count } }

    /// Ends every open stream, so their `ListAndWatch` calls return and a server can shut down.
    public func finishAllWatchers() {
        let watchers = state.withLock { s -> [Updates.Continuation] in
            defer { s.watchers = [:] }
            return Array(s.watchers.values)
        }
        for watcher in watchers { watcher.finish() }
    }
}
