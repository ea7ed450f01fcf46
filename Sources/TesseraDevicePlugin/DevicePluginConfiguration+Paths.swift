import TesseraKubernetes

extension DevicePluginConfiguration {
    /// `<kubelet>/device-plugins/`, where the kubelet and its plugins put their sockets.
    public var devicePluginDirectory: String { "\(kubeletDirectory)/device-plugins" }
    /// The plugin's own socket: ``DevicePluginConfiguration/pluginEndpoint`` in the device-plugin folder.
    public var pluginSocket: String { "\(devicePluginDirectory)/\(pluginEndpoint)" }
}
