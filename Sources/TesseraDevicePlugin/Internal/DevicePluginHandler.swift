import GRPCCore
import TesseraKubernetes

/// The `v1beta1.DevicePlugin` service the kubelet calls: answers from the ``DeviceRegistry``.
struct DevicePluginHandler: V1beta1_DevicePlugin.SimpleServiceProtocol {
    let registry: DeviceRegistry

    static let options = V1beta1_DevicePluginOptions.with {
        $0.preStartRequired = false
        $0.getPreferredAllocationAvailable = true
    }

    func getDevicePluginOptions(request: V1beta1_Empty, context: ServerContext) async throws -> V1beta1_DevicePluginOptions {
        Self.options
    }

    func listAndWatch(
        request: V1beta1_Empty, response: RPCWriter<V1beta1_ListAndWatchResponse>, context: ServerContext
    ) async throws {
        // Ends when the registry finishes its watchers (the plugin restarts or stops) or the kubelet goes away.
        for await devices in registry.watch() {
            try await response.write(.with { $0.devices = devices.map(Self.message) })
        }
    }

    func getPreferredAllocation(
        request: V1beta1_PreferredAllocationRequest, context: ServerContext
    ) async throws -> V1beta1_PreferredAllocationResponse {
        let devices = registry.devices
        var containers: [V1beta1_ContainerPreferredAllocationResponse] = []
        for container in request.containerRequests {
            let size = Int(container.allocationSize)
            guard size >= 0, container.mustIncludeDeviceIds.count <= size else {
                throw KubernetesError(.invalidRequest, "allocation_size \(size) is negative or smaller than must_include_deviceIDs (\(container.mustIncludeDeviceIds.count))").rpcError
            }
            let ids = devices.preferredAllocation(
                available: container.availableDeviceIds, mustInclude: container.mustIncludeDeviceIds, size: size)
            containers.append(.with { $0.deviceIds = ids })
        }
        return .with { $0.containerResponses = containers }
    }

    func allocate(request: V1beta1_AllocateRequest, context: ServerContext) async throws -> V1beta1_AllocateResponse {
        let devices = registry.devices
        var containers: [V1beta1_ContainerAllocateResponse] = []
        for container in request.containerRequests {
            let allocation: VGPUDevices.ContainerAllocation
            do {
                allocation = try devices.allocate(deviceIDs: container.devicesIds)
            } catch {
                throw error.rpcError
            }
            containers.append(.with {
                $0.envs = allocation.environment
                $0.mounts = allocation.mounts.map { mount in
                    .with {
                        $0.containerPath = mount.containerPath
                        $0.hostPath = mount.hostPath
                        $0.readOnly = mount.readOnly
                    }
                }
            })
        }
        return .with { $0.containerResponses = containers }
    }

    func preStartContainer(
        request: V1beta1_PreStartContainerRequest, context: ServerContext
    ) async throws -> V1beta1_PreStartContainerResponse {
        V1beta1_PreStartContainerResponse()
    }

    static func message(_ device: VGPUDevices.Device) -> V1beta1_Device {
        .with {
            $0.id = device.id
            $0.health = device.healthy ? "Healthy" : "Unhealthy"
        }
    }
}
