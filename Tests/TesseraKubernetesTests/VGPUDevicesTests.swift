import Testing
import TesseraKubernetes

@Suite struct VGPUDevicesTests {
    @Test func advertisesVGPUsPerGPUAndMarksAnUnhealthyGPUsDevices() {
        var devices = VGPUDevices(gpuCount: 2, configuration: .init(vgpusPerGPU: 4))
        #expect(devices.devices.count == 8)
        #expect(devices.devices.allSatisfy { $0.healthy })
        #expect(devices.devices.allSatisfy { $0.id.count <= 63 })
        let changed = devices.setHealth(ofGPU: 1, healthy: false)
        let changedAgain = devices.setHealth(ofGPU: 1, healthy: false)
        #expect(changed && !changedAgain)
        #expect(devices.devices.filter { !$0.healthy }.map(\.gpuIndex) == [1, 1, 1, 1])
        let recovered = devices.setHealth(ofGPU: 1, healthy: true)
        #expect(recovered)
        #expect(devices.devices.allSatisfy { $0.healthy })
    }

    @Test func parsesOnlyItsOwnIDs() {
        let devices = VGPUDevices(gpuCount: 2, configuration: .init(vgpusPerGPU: 4))
        #expect(devices.gpuIndex(of: "tessera-g1-v3") == 1)
        for bad in ["tessera-g2-v0", "tessera-g1-v4", "tessera-g01-v1", "nvidia0", "tessera-g1-x1", "tessera-g-v1", ""] {
            #expect(devices.gpuIndex(of: bad) == nil, "\(bad)")
        }
    }

    @Test func prefersDistinctHealthyGPUs() {
        var devices = VGPUDevices(gpuCount: 3, configuration: .init(vgpusPerGPU: 4))
        let all = devices.devices.map(\.id)
        let two = devices.preferredAllocation(available: all, mustInclude: [], size: 2)
        #expect(Set(two.compactMap(devices.gpuIndex)).count == 2)
        let withRequired = devices.preferredAllocation(available: all, mustInclude: ["tessera-g2-v1"], size: 3)
        #expect(withRequired.first == "tessera-g2-v1" && Set(withRequired.compactMap(devices.gpuIndex)).count == 3)
        devices.setHealth(ofGPU: 0, healthy: false)
        let healthy = devices.preferredAllocation(available: all, mustInclude: [], size: 4)
        #expect(healthy.count == 4 && healthy.allSatisfy { devices.gpuIndex(of: $0) != 0 })
    }

    @Test func allocationPointsTheContainerAtTesseraWithoutImageChanges() throws {
        let devices = VGPUDevices(gpuCount: 1, configuration: .init(vgpusPerGPU: 8))
        let allocation = try devices.allocate(deviceIDs: ["tessera-g0-v0", "tessera-g0-v5"])
        #expect(allocation.environment["TESSERA_ENDPOINT"] == "/var/run/tessera/node.sock")
        #expect(allocation.environment["TESSERA_VGPUS"] == "2")
        #expect(allocation.environment["LD_LIBRARY_PATH"]?.hasPrefix("/usr/local/tessera/lib:") == true)
        #expect(allocation.mounts.contains { $0.hostPath == "/opt/tessera/lib" && $0.readOnly })
        #expect(allocation.mounts.contains { $0.hostPath == "/var/run/tessera" && $0.containerPath == "/var/run/tessera" })
        #expect(throws: KubernetesError.self) { try devices.allocate(deviceIDs: ["nvidia0"]) }
        #expect(throws: KubernetesError.self) { try devices.allocate(deviceIDs: []) }
    }

    /// A node with the pool's CA bundle hands it to its containers (read-only) and names it in `TESSERA_CA`, so
    /// their programs verify the nodes they reach over TLS; without one, neither appears.
    @Test func thePoolCABundleGoesIntoContainers() throws {
        var configuration = DevicePluginConfiguration(vgpusPerGPU: 2)
        configuration.caBundleHostPath = "/tmp/tessera-node-tls-x/ca.pem"
        let allocation = try VGPUDevices(gpuCount: 1, configuration: configuration).allocate(deviceIDs: ["tessera-g0-v0"])
        #expect(allocation.environment["TESSERA_CA"] == DevicePluginConfiguration.containerCABundle)
        #expect(allocation.mounts.contains {
            $0.hostPath == "/tmp/tessera-node-tls-x/ca.pem" && $0.containerPath == DevicePluginConfiguration.containerCABundle && $0.readOnly
        })
        let without = try VGPUDevices(gpuCount: 1, configuration: .init(vgpusPerGPU: 2)).allocate(deviceIDs: ["tessera-g0-v0"])
        #expect(without.environment["TESSERA_CA"] == nil && !without.mounts.contains { $0.containerPath == DevicePluginConfiguration.containerCABundle })
    }

    /// On simulated GPUs, containers also get what makes CuPy and numba-cuda hand the device PTX; on real GPUs,
    /// nothing of it.
    @Test func simulatedGPUsTellFrameworksToHandThemPTX() throws {
        let simulated = VGPUDevices(gpuCount: 1, configuration: .init(vgpusPerGPU: 2, simulatedGPUs: true))
        let env = try simulated.allocate(deviceIDs: ["tessera-g0-v1"]).environment
        #expect(env["CUPY_COMPILE_WITH_PTX"] == "1")
        #expect(env["LD_PRELOAD"] == "/usr/local/tessera/lib/ptx-only/libnvJitLink.so.13")
        #expect(env["PYTHONWARNINGS"]?.contains("libnvJitLink") == true)
        let real = try VGPUDevices(gpuCount: 1, configuration: .init(vgpusPerGPU: 2)).allocate(deviceIDs: ["tessera-g0-v1"]).environment
        #expect(real["CUPY_COMPILE_WITH_PTX"] == nil && real["LD_PRELOAD"] == nil)
    }
}
