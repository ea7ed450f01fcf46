/// Where the Kubernetes API server is and how to authenticate to it.
public struct KubernetesAPIConfiguration: Sendable, Hashable {
    /// `https://host:port` (or `http://` for a local proxy), without a trailing slash.
    public var baseURL: String
    /// A file holding the bearer token, re-read for every request (projected service-account tokens rotate).
    public var tokenFile: String?
    /// Seconds a request may take.
    public var timeoutSeconds: Double

    public init(baseURL: String, tokenFile: String? = nil, timeoutSeconds: Double = 10) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.tokenFile = tokenFile
        self.timeoutSeconds = timeoutSeconds
    }

    /// The service-account folder every pod gets.
    public static let serviceAccountFolder = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// The in-cluster configuration from a pod's environment: `KUBERNETES_SERVICE_HOST`/`_PORT` and the
    /// service-account token. The CA (`ca.crt` in the same folder) is handed to the HTTP stack through the
    /// environment variable `URLSessionCertificateAuthorityInfoFile`, which the deployment sets.
    public static func inCluster(environment: [String: String]) -> KubernetesAPIConfiguration? {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], let port = environment["KUBERNETES_SERVICE_PORT"] else {
            return nil
        }
        let bracketed = host.contains(":") ? "[\(host)]" : host
        return KubernetesAPIConfiguration(
            baseURL: "https://\(bracketed):\(port)", tokenFile: "\(serviceAccountFolder)/token")
    }
}
