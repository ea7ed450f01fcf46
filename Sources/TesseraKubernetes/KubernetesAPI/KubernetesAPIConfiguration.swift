/// Where the Kubernetes API server is and how to authenticate to it.
public struct KubernetesAPIConfiguration: Sendable, Hashable {
    /// `https://host:port` (or `http://` for a local proxy), without a trailing slash.
    public var baseURL: String
    /// A file holding the bearer token, re-read for every request (projected service-account tokens rotate).
    public var tokenFile: String?
    /// Seconds a request may take.
    public var timeoutSeconds: Double
    /// The CA bundle (PEM) the API server's certificate must chain to, for an `https` URL; nil: the system's.
    public var caFile: String?

    public init(baseURL: String, tokenFile: String? = nil, timeoutSeconds: Double = 10, caFile: String? = nil) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.tokenFile = tokenFile
        self.timeoutSeconds = timeoutSeconds
        self.caFile = caFile
    }

    /// The service-account folder every pod gets.
    public static let serviceAccountFolder = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// The in-cluster configuration from a pod's environment: `KUBERNETES_SERVICE_HOST`/`_PORT`, the
    /// service-account token, and the cluster's CA (`ca.crt` in the same folder), against which the API server is
    /// verified. (Foundation's URLSession on Linux cannot be given a CA bundle, so requests with one go through
    /// the pool's NIO client: `HTTPTransport.send(_:caFile:)`.)
    public static func inCluster(environment: [String: String]) -> KubernetesAPIConfiguration? {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], let port = environment["KUBERNETES_SERVICE_PORT"] else {
            return nil
        }
        let bracketed = host.contains(":") ? "[\(host)]" : host
        return KubernetesAPIConfiguration(
            baseURL: "https://\(bracketed):\(port)", tokenFile: "\(serviceAccountFolder)/token", caFile: "\(serviceAccountFolder)/ca.crt")
    }
}
