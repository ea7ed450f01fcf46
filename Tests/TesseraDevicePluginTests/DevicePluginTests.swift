import GRPCCore
import Synchronization
import Testing
import TesseraDevicePlugin
import TesseraKubernetes
import TesseraTestSupport

/// The real device plugin against a kubelet stand-in speaking v1beta1 over unix sockets.
@Suite struct DevicePluginTests {
    static func configuration(_ directory: String) -> DevicePluginConfiguration {
        DevicePluginConfiguration(
            kubeletDirectory: directory, vgpusPerGPU: 3, socketDirectory: "/var/run/tessera", socketName: "node.sock",
            hostLibraryDirectory: "/opt/tessera/lib", containerLibraryDirectory: "/usr/local/tessera/lib")
    }

    static let allHealthy = ["tessera-g0-v0=Healthy", "tessera-g0-v1=Healthy", "tessera-g0-v2=Healthy",
                             "tessera-g1-v0=Healthy", "tessera-g1-v1=Healthy", "tessera-g1-v2=Healthy"]

    @Test func registersAfterServingAndStreamsHealthChanges() async throws {
        let directory = try KubeletDirectory()
        let configuration = Self.configuration(directory.path)
        try await withKubelet(directory.path) { kubelet in
            let plugin = DevicePlugin(gpuCount: 2, configuration: configuration, logger: testLogger)
            try await withPlugin(plugin) { plugin in
                #expect(await kubelet.wait { !$0.registrations.isEmpty && !$0.deviceLists.isEmpty })
                let record = kubelet.record.withLock { $0 }
                #expect(record.errors == [])
                let registration = try #require(record.registrations.first)
                #expect(registration.version == "v1beta1")
                #expect(registration.endpoint == "tessera-vgpu.sock")
                #expect(registration.resourceName == "tessera.dev/vgpu")
                #expect(registration.options.getPreferredAllocationAvailable)
                #expect(!registration.options.preStartRequired)
                // The stand-in dialed the plugin while handling Register: it was serving before registering.
                #expect(record.pluginOptions.first?.getPreferredAllocationAvailable == true)
                #expect(summary(record.deviceLists.first) == Self.allHealthy)

                #expect(plugin.setHealth(ofGPU: 1, healthy: false))
                #expect(!plugin.setHealth(ofGPU: 1, healthy: false), "no change, no new list")
                #expect(await kubelet.wait { summary($0.deviceLists.last) != Self.allHealthy })
                #expect(summary(kubelet.latestDevices) == [
                    "tessera-g0-v0=Healthy", "tessera-g0-v1=Healthy", "tessera-g0-v2=Healthy",
                    "tessera-g1-v0=Unhealthy", "tessera-g1-v1=Unhealthy", "tessera-g1-v2=Unhealthy",
                ])
                #expect(plugin.setHealth(ofGPU: 1, healthy: true))
                #expect(await kubelet.wait { summary($0.deviceLists.last) == Self.allHealthy })
                #expect(kubelet.registrations.count == 1)
            }
            // Graceful shutdown removed the plugin's socket and ended the kubelet's stream.
            #expect(!directory.exists("device-plugins/tessera-vgpu.sock"))
        }
    }

    @Test func healthProbeFeedsListAndWatch() async throws {
        let directory = try KubeletDirectory()
        let broken = Mutex<Set<Int>>([])
        let plugin = DevicePlugin(
            gpuCount: 2, configuration: Self.configuration(directory.path),
            healthProbe: { gpu in !broken.withLock { $0.contains(gpu) } }, healthInterval: .milliseconds(50),
            logger: testLogger)
        try await withKubelet(directory.path) { kubelet in
            try await withPlugin(plugin) { _ in
                #expect(await kubelet.wait { summary($0.deviceLists.last) == Self.allHealthy })
                broken.withLock { _ = $0.insert(0) }
                #expect(await kubelet.wait { summary($0.deviceLists.last).first == "tessera-g0-v0=Unhealthy" })
                #expect(summary(kubelet.latestDevices) == [
                    "tessera-g0-v0=Unhealthy", "tessera-g0-v1=Unhealthy", "tessera-g0-v2=Unhealthy",
                    "tessera-g1-v0=Healthy", "tessera-g1-v1=Healthy", "tessera-g1-v2=Healthy",
                ])
                #expect(plugin.registry.devices.devices.filter { !$0.healthy }.map(\.gpuIndex) == [0, 0, 0])
            }
        }
    }

    @Test func preferredAllocationAllocateAndPreStart() async throws {
        let directory = try KubeletDirectory()
        let configuration = Self.configuration(directory.path)
        try await withKubelet(directory.path) { kubelet in
            try await withPlugin(DevicePlugin(gpuCount: 2, configuration: configuration, logger: testLogger)) { _ in
                #expect(await kubelet.wait { !$0.registrations.isEmpty })
                try await withPluginClient(configuration) { plugin in
                    let preferred = try await plugin.getPreferredAllocation(.with {
                        $0.containerRequests = [
                            .with {  // must_include first, then spread over the GPUs
                                $0.availableDeviceIds = Self.allHealthy.map { String($0.prefix { $0 != "=" }) }
                                $0.mustIncludeDeviceIds = ["tessera-g1-v2"]
                                $0.allocationSize = 3
                            },
                            .with {
                                $0.availableDeviceIds = ["tessera-g0-v2", "tessera-g0-v1", "tessera-g1-v0"]
                                $0.allocationSize = 2
                            },
                        ]
                    })
                    #expect(preferred.containerResponses.map(\.deviceIds) == [
                        ["tessera-g1-v2", "tessera-g0-v0", "tessera-g0-v1"],
                        ["tessera-g0-v1", "tessera-g1-v0"],
                    ])
                    await #expect(throws: RPCError.self) {
                        _ = try await plugin.getPreferredAllocation(.with {
                            $0.containerRequests = [.with { $0.mustIncludeDeviceIds = ["tessera-g0-v0", "tessera-g0-v1"]; $0.allocationSize = 1 }]
                        })
                    }

                    let allocation = try await plugin.allocate(.with {
                        $0.containerRequests = [
                            .with { $0.devicesIds = ["tessera-g0-v0"] },
                            .with { $0.devicesIds = ["tessera-g0-v1", "tessera-g1-v0"] },
                        ]
                    })
                    #expect(allocation.containerResponses.count == 2)
                    let library = "/usr/local/tessera/lib:/usr/local/nvidia/lib64:/usr/local/cuda/lib64"
                    #expect(allocation.containerResponses[0].envs == [
                        "TESSERA_ENDPOINT": "/var/run/tessera/node.sock", "TESSERA_VGPUS": "1",
                        "TESSERA_DEVICE_IDS": "tessera-g0-v0", "LD_LIBRARY_PATH": library,
                    ])
                    #expect(allocation.containerResponses[1].envs == [
                        "TESSERA_ENDPOINT": "/var/run/tessera/node.sock", "TESSERA_VGPUS": "2",
                        "TESSERA_DEVICE_IDS": "tessera-g0-v1,tessera-g1-v0", "LD_LIBRARY_PATH": library,
                    ])
                    for container in allocation.containerResponses {
                        #expect(container.mounts.map { "\($0.hostPath)->\($0.containerPath) ro=\($0.readOnly)" } == [
                            "/var/run/tessera->/var/run/tessera ro=false",
                            "/opt/tessera/lib->/usr/local/tessera/lib ro=true",
                        ])
                        #expect(container.devices.isEmpty && container.annotations.isEmpty && container.cdiDevices.isEmpty)
                    }

                    let error = await #expect(throws: RPCError.self) {
                        _ = try await plugin.allocate(.with { $0.containerRequests = [.with { $0.devicesIds = ["nvidia-0"] }] })
                    }
                    #expect(error?.code == .invalidArgument)
                    #expect(error?.message.contains("nvidia-0") == true)

                    let preStart = try await plugin.preStartContainer(.with { $0.devicesIds = ["tessera-g0-v0"] })
                    #expect(preStart == V1beta1_PreStartContainerResponse())
                    let options = try await plugin.getDevicePluginOptions(V1beta1_Empty())
                    #expect(options.getPreferredAllocationAvailable && !options.preStartRequired)
                }
            }
        }
    }

    @Test func reregistersWhenTheKubeletRestarts() async throws {
        let directory = try KubeletDirectory()
        let configuration = Self.configuration(directory.path)
        let plugin = DevicePlugin(gpuCount: 2, configuration: configuration, logger: testLogger)
        try await withPlugin(plugin) { plugin in
            // The plugin waits for a kubelet that is not there yet.
            try await withKubelet(directory.path) { first in
                #expect(await first.wait { !$0.registrations.isEmpty && !$0.deviceLists.isEmpty })
            }
            // Restart as the kubelet does it: every socket in the folder deleted, then a new kubelet.sock.
            directory.remove("device-plugins/kubelet.sock")
            directory.remove("device-plugins/tessera-vgpu.sock")
            plugin.setHealth(ofGPU: 0, healthy: false)
            try await withKubelet(directory.path) { second in
                #expect(await second.wait { !$0.registrations.isEmpty && !$0.deviceLists.isEmpty })
                #expect(second.registrations.first?.endpoint == "tessera-vgpu.sock")
                #expect(summary(second.latestDevices).prefix(3) == [
                    "tessera-g0-v0=Unhealthy", "tessera-g0-v1=Unhealthy", "tessera-g0-v2=Unhealthy",
                ])
            }
            // Only kubelet.sock replaced (the plugin's socket left in place): a new inode, so register again.
            directory.remove("device-plugins/kubelet.sock")
            try await withKubelet(directory.path) { third in
                #expect(await third.wait { !$0.registrations.isEmpty && !$0.deviceLists.isEmpty })
                #expect(third.registrations.first?.resourceName == "tessera.dev/vgpu")
            }
        }
    }
}
