import Testing
import TesseraDevicePlugin
import TesseraKubernetes

/// The plugin's shared state without any socket: watchers get the current list, then each change.
@Suite struct DeviceRegistryTests {
    @Test func watchersSeeTheCurrentListThenEveryChangeUntilFinished() async {
        let registry = DeviceRegistry(gpuCount: 2, configuration: DevicePluginConfiguration(vgpusPerGPU: 2))
        var first = registry.watch().makeAsyncIterator()
        #expect(await first.next()?.map(\.healthy) == [true, true, true, true])
        #expect(registry.watcherCount == 1)

        #expect(registry.setHealth(ofGPU: 1, healthy: false))
        #expect(!registry.setHealth(ofGPU: 1, healthy: false))
        #expect(!registry.setHealth(ofGPU: 7, healthy: false), "a GPU the node does not have changes nothing")
        let changed = await first.next()
        #expect(changed?.map(\.id) == ["tessera-g0-v0", "tessera-g0-v1", "tessera-g1-v0", "tessera-g1-v1"])
        #expect(changed?.map(\.healthy) == [true, true, false, false])

        // A late watcher starts from the current state; only the newest unread list is kept.
        var second = registry.watch().makeAsyncIterator()
        registry.setHealth(ofGPU: 0, healthy: false)
        registry.setHealth(ofGPU: 1, healthy: true)
        #expect(await second.next()?.map(\.healthy) == [false, false, true, true])

        registry.finishAllWatchers()
        #expect(registry.watcherCount == 0)
        #expect(await first.next()?.map(\.healthy) == [false, false, true, true])
        #expect(await first.next() == nil)
        #expect(await second.next() == nil)
    }
}
