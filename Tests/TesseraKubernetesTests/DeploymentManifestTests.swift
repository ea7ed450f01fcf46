import Foundation
import Testing
import TesseraKubernetes
import Yams

/// deploy/ parses, and its objects reference each other consistently: service accounts, roles, volumes,
/// selectors, the scheduler profile's name, the extender's address and the resource names the code reads.
@Suite struct DeploymentManifestTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("deploy")

    typealias Object = [String: Any]

    static func documents(_ relativePath: String) throws -> [Object] {
        let text = try String(contentsOf: root.appendingPathComponent(relativePath), encoding: .utf8)
        return try Yams.load_all(yaml: text).compactMap { $0 as? Object }
    }

    static func plainManifests() throws -> [Object] {
        try ["namespace.yaml", "rbac.yaml", "controller.yaml", "node.yaml", "scheduler/scheduler.yaml", "monitoring/monitoring.yaml"].flatMap(documents)
    }

    static func named(_ objects: [Object], kind: String) -> [String: Object] {
        var result: [String: Object] = [:]
        for object in objects where object["kind"] as? String == kind {
            if let name = (object["metadata"] as? Object)?["name"] as? String { result[name] = object }
        }
        return result
    }

    static func podSpec(_ workload: Object) -> Object? {
        ((workload["spec"] as? Object)?["template"] as? Object)?["spec"] as? Object
    }

    static func schedulerConfiguration(_ objects: [Object]) throws -> Object {
        let configMap = try #require(named(objects, kind: "ConfigMap")["tessera-scheduler-config"])
        let text = try #require((configMap["data"] as? Object)?["scheduler-config.yaml"] as? String)
        return try #require(try Yams.load(yaml: text) as? Object)
    }

    @Test func everyObjectIsWellFormedAndNamespaced() throws {
        let objects = try Self.plainManifests()
        #expect(objects.count >= 20)
        let clusterScoped: Set<String> = ["Namespace", "ClusterRole", "ClusterRoleBinding"]
        for object in objects {
            let kind = try #require(object["kind"] as? String)
            #expect(object["apiVersion"] is String)
            let metadata = try #require(object["metadata"] as? Object)
            #expect(metadata["name"] is String)
            if !clusterScoped.contains(kind) {
                let namespace = metadata["namespace"] as? String
                #expect(namespace == "tessera" || namespace == "kube-system", "\(kind) \(metadata["name"] ?? "")")
            }
        }
    }

    @Test func workloadsReferenceExistingAccountsVolumesAndSelectors() throws {
        let objects = try Self.plainManifests()
        let accounts = Self.named(objects, kind: "ServiceAccount")
        let configMaps = Self.named(objects, kind: "ConfigMap")
        let claims = Self.named(objects, kind: "PersistentVolumeClaim")
        let workloads = Array(Self.named(objects, kind: "Deployment").values) + Array(Self.named(objects, kind: "DaemonSet").values)
        #expect(workloads.count == 3)
        for workload in workloads {
            let spec = try #require(workload["spec"] as? Object)
            let selector = try #require((spec["selector"] as? Object)?["matchLabels"] as? [String: String])
            let labels = try #require(((spec["template"] as? Object)?["metadata"] as? Object)?["labels"] as? [String: String])
            #expect(selector.allSatisfy { labels[$0.key] == $0.value })
            let pod = try #require(Self.podSpec(workload))
            #expect(accounts[pod["serviceAccountName"] as? String ?? ""] != nil)
            let volumes = (pod["volumes"] as? [Object]) ?? []
            let volumeNames = Set(volumes.compactMap { $0["name"] as? String })
            let secrets = Self.named(objects, kind: "Secret")
            for volume in volumes {
                if let name = (volume["configMap"] as? Object)?["name"] as? String { #expect(configMaps[name] != nil) }
                if let name = (volume["secret"] as? Object)?["secretName"] as? String { #expect(secrets[name] != nil, "\(name)") }
                if let name = (volume["persistentVolumeClaim"] as? Object)?["claimName"] as? String { #expect(claims[name] != nil) }
            }
            let containers = ((pod["containers"] as? [Object]) ?? []) + ((pod["initContainers"] as? [Object]) ?? [])
            for container in containers {
                for mount in (container["volumeMounts"] as? [Object]) ?? [] {
                    #expect(volumeNames.contains(mount["name"] as? String ?? ""), "\(mount)")
                }
            }
        }
        // The controller's Service selects the controller's pods and targets a port they expose.
        let service = try #require(Self.named(objects, kind: "Service")["tessera-controller"])
        let controller = try #require(Self.named(objects, kind: "Deployment")["tessera-controller"])
        let serviceSelector = try #require((service["spec"] as? Object)?["selector"] as? [String: String])
        let podLabels = (((controller["spec"] as? Object)?["template"] as? Object)?["metadata"] as? Object)?["labels"] as? [String: String]
        #expect(serviceSelector.allSatisfy { podLabels?[$0.key] == $0.value })
        let ports = ((Self.podSpec(controller)?["containers"] as? [Object])?.first?["ports"] as? [Object]) ?? []
        let target = ((service["spec"] as? Object)?["ports"] as? [Object])?.first?["targetPort"] as? String
        #expect(ports.contains { $0["name"] as? String == target })
    }

    /// The node DaemonSet drives the machine's real GPUs through the host's driver, which the NVIDIA container
    /// runtime provides; the chart can switch to simulated GPUs instead.
    @Test func nodeServesTheRealGPUsThroughTheNVIDIARuntime() throws {
        let node = try #require(Self.named(try Self.plainManifests(), kind: "DaemonSet")["tessera-node"])
        let pod = try #require(Self.podSpec(node))
        #expect(pod["runtimeClassName"] as? String == "nvidia")
        let container = try #require((pod["containers"] as? [Object])?.first { $0["name"] as? String == "node" })
        let args = try #require(container["args"] as? [String])
        #expect(args.contains("--gpus=all") && !args.contains { $0.hasPrefix("--sim-gpus") })
        let env = (container["env"] as? [Object]) ?? []
        #expect(env.contains { $0["name"] as? String == "NVIDIA_DRIVER_CAPABILITIES" && ($0["value"] as? String)?.contains("compute") == true })
        let values = try #require(try Self.documents("helm/tessera/values.yaml").first)
        let chartNode = try #require(values["node"] as? Object)
        #expect(chartNode["gpus"] as? String == "all" && chartNode["runtimeClassName"] as? String == "nvidia")
        #expect((chartNode["simulatedGPUs"] as? Object)?["count"] as? Int == 0)
        let template = try String(contentsOf: Self.root.appendingPathComponent("helm/tessera/templates/node.yaml"), encoding: .utf8)
        #expect(template.contains("--sim-gpus={{ .Values.node.simulatedGPUs.count }}") && template.contains("--gpus={{ .Values.node.gpus }}"))
    }

    @Test func nodeServesTheDevicePluginWithTheKubeletFoldersMounted() throws {
        let node = try #require(Self.named(try Self.plainManifests(), kind: "DaemonSet")["tessera-node"])
        let pod = try #require(Self.podSpec(node))
        let container = try #require((pod["containers"] as? [Object])?.first { $0["name"] as? String == "node" })
        let args = try #require(container["args"] as? [String])
        // `--flag value` or `--flag=value`, as kube and ArgumentParser both accept.
        func value(_ flag: String) -> String? {
            if let i = args.firstIndex(of: flag), i + 1 < args.count { return args[i + 1] }
            return args.first { $0.hasPrefix(flag + "=") }.map { String($0.dropFirst(flag.count + 1)) }
        }
        #expect(args.contains("--device-plugin"))
        #expect(value("--resource-name") == ResourceNames.standard.vgpu)
        let kubelet = try #require(value("--kubelet-dir"))
        let socket = try #require(value("--socket"))
        let mounts = Dictionary(uniqueKeysWithValues: ((container["volumeMounts"] as? [Object]) ?? []).compactMap { m in
            (m["mountPath"] as? String).map { ($0, m["name"] as? String ?? "") }
        })
        let hostPaths = Dictionary(uniqueKeysWithValues: ((pod["volumes"] as? [Object]) ?? []).compactMap { v in
            ((v["hostPath"] as? Object)?["path"] as? String).map { (v["name"] as? String ?? "", $0) }
        })
        // The kubelet's sockets are where --kubelet-dir says; the node's socket folder is mounted at its host path,
        // because Allocate hands that same path to containers; the runtime libraries' host path is the flag's.
        #expect(mounts["\(kubelet)/device-plugins"].flatMap { hostPaths[$0] } == "/var/lib/kubelet/device-plugins")
        #expect(mounts["\(kubelet)/pod-resources"].flatMap { hostPaths[$0] } == "/var/lib/kubelet/pod-resources")
        let socketDirectory = String(socket[..<socket.lastIndex(of: "/")!])
        #expect(mounts[socketDirectory].flatMap { hostPaths[$0] } == socketDirectory)
        #expect(hostPaths.values.contains(try #require(value("--runtime-library-dir"))))
    }

    @Test func rbacIsLeastPrivilegeAndBindsExistingSubjects() throws {
        let objects = try Self.plainManifests()
        let accounts = Set(Self.named(objects, kind: "ServiceAccount").keys)
        let roles = Set(Self.named(objects, kind: "ClusterRole").keys).union(Self.named(objects, kind: "Role").keys)
        for kind in ["ClusterRole", "Role"] {
            for (_, role) in Self.named(objects, kind: kind) {
                for rule in (role["rules"] as? [Object]) ?? [] {
                    for key in ["verbs", "resources", "apiGroups"] {
                        #expect(!((rule[key] as? [String]) ?? []).contains("*"), "wildcard in \(role)")
                    }
                    let verbs = Set((rule["verbs"] as? [String]) ?? [])
                    #expect(verbs.isDisjoint(with: ["delete", "deletecollection", "patch", "escalate", "bind", "impersonate"]))
                }
            }
        }
        let extender = try #require(Self.named(objects, kind: "ClusterRole")["tessera-extender"])
        let rules = try #require(extender["rules"] as? [Object])
        #expect(rules.contains { ($0["resources"] as? [String]) == ["pods/binding"] && ($0["verbs"] as? [String]) == ["create"] })
        for kind in ["ClusterRoleBinding", "RoleBinding"] {
            for (name, binding) in Self.named(objects, kind: kind) {
                let roleName = try #require((binding["roleRef"] as? Object)?["name"] as? String)
                #expect(roles.contains(roleName) || roleName.hasPrefix("system:") || roleName == "extension-apiserver-authentication-reader", "\(name)")
                for subject in (binding["subjects"] as? [Object]) ?? [] {
                    #expect(accounts.contains(subject["name"] as? String ?? ""), "\(name)")
                }
            }
        }
    }

    @Test func schedulerProfileMatchesTheExtenderAndTheResourceNames() throws {
        let objects = try Self.plainManifests()
        let configuration = try Self.schedulerConfiguration(objects)
        #expect(configuration["apiVersion"] as? String == "kubescheduler.config.k8s.io/v1")
        let profile = try #require((configuration["profiles"] as? [Object])?.first?["schedulerName"] as? String)
        let extender = try #require((configuration["extenders"] as? [Object])?.first)
        #expect(extender["nodeCacheCapable"] as? Bool == true)
        #expect(extender["filterVerb"] as? String == "filter" && extender["prioritizeVerb"] as? String == "prioritize")
        #expect(extender["bindVerb"] as? String == "bind")
        #expect((extender["weight"] as? Int ?? 0) > 0)
        let managed = try #require(extender["managedResources"] as? [Object])
        let names = ResourceNames.standard
        var ignored: [String: Bool] = [:]
        for entry in managed { ignored[entry["name"] as? String ?? ""] = entry["ignoredByScheduler"] as? Bool }
        #expect(ignored == [names.vgpu: false, names.vgpuMemory: true, names.vgpuCompute: true])

        // The urlPrefix reaches the extender container: same port and path prefix as its arguments.
        let deployment = try #require(Self.named(objects, kind: "Deployment")["tessera-scheduler"])
        let containers = try #require(Self.podSpec(deployment)?["containers"] as? [Object])
        let args = try #require(containers.first { $0["name"] as? String == "extender" }?["args"] as? [String])
        let port = try #require(args.first { $0.hasPrefix("--port=") }?.dropFirst("--port=".count))
        let prefix = try #require(args.first { $0.hasPrefix("--path-prefix=") }?.dropFirst("--path-prefix=".count))
        #expect(extender["urlPrefix"] as? String == "http://127.0.0.1:\(port)\(prefix)")
        #expect(args.contains("scheduler"))
        // The extender holds reservations in the controller: its Service's name and port, and the scheduler token
        // from the same Secret key the controller accepts scheduler tokens from.
        let controllerURL = try #require(args.first { $0.hasPrefix("--controller=") }?.dropFirst("--controller=".count))
        let service = try #require(Self.named(objects, kind: "Service")["tessera-controller"])
        let servicePort = try #require(((service["spec"] as? Object)?["ports"] as? [Object])?.first?["port"] as? Int)
        #expect(controllerURL == "http://tessera-controller.tessera.svc:\(servicePort)")
        let tokenFile = try #require(args.first { $0.hasPrefix("--controller-token-file=") }?.dropFirst("--controller-token-file=".count))
        let extenderSecret = try Self.secretKey(mountedAt: String(tokenFile), in: deployment, container: "extender")
        let controllerDeployment = try #require(Self.named(objects, kind: "Deployment")["tessera-controller"])
        let controllerArgs = try #require((Self.podSpec(controllerDeployment)?["containers"] as? [Object])?.first?["args"] as? [String])
        let acceptedFile = try #require(controllerArgs.first { $0.hasPrefix("--scheduler-token-file=") }?.dropFirst("--scheduler-token-file=".count))
        let controllerSecret = try Self.secretKey(mountedAt: String(acceptedFile), in: controllerDeployment, container: "controller")
        #expect(extenderSecret == controllerSecret && extenderSecret.key == "scheduler")
        let secret = try #require(Self.named(objects, kind: "Secret")[extenderSecret.secret])
        #expect((secret["stringData"] as? Object)?[extenderSecret.key] is String)
        // The node daemons join the same controller with the node token it accepts, and claim pods' reservations.
        let daemonSet = try #require(Self.named(objects, kind: "DaemonSet")["tessera-node"])
        let nodeArgs = try #require((Self.podSpec(daemonSet)?["containers"] as? [Object])?.first { $0["name"] as? String == "node" }?["args"] as? [String])
        #expect(nodeArgs.contains("--controller=\(controllerURL)") && nodeArgs.contains("--pod-reservations"))
        let nodeTokenFile = try #require(nodeArgs.first { $0.hasPrefix("--node-token-file=") }?.dropFirst("--node-token-file=".count))
        let acceptedNodeFile = try #require(controllerArgs.first { $0.hasPrefix("--node-token-file=") }?.dropFirst("--node-token-file=".count))
        let nodeSecret = try Self.secretKey(mountedAt: String(nodeTokenFile), in: daemonSet, container: "node")
        #expect(nodeSecret == (try Self.secretKey(mountedAt: String(acceptedNodeFile), in: controllerDeployment, container: "controller")))
        #expect((secret["stringData"] as? Object)?[nodeSecret.key] is String)

        // Whoever uses the profile uses its name and the same resource names.
        let student = try #require(try Self.documents("examples/student-pod.yaml").first)
        let studentSpec = try #require(student["spec"] as? Object)
        #expect(studentSpec["schedulerName"] as? String == profile)
        let limits = try #require((((studentSpec["containers"] as? [Object])?.first?["resources"]) as? Object)?["limits"] as? [String: Any])
        #expect(limits[names.vgpu] != nil && limits[names.vgpuMemory] != nil && limits[names.vgpuCompute] != nil)
        let hub = try #require(try Self.documents("jupyterhub/config.yaml").first?["singleuser"] as? Object)
        #expect(hub["schedulerName"] as? String == profile)
        let profiles = try #require(hub["profileList"] as? [Object])
        let slices = profiles.compactMap { ($0["kubespawner_override"] as? Object)?["extra_resource_limits"] as? [String: String] }
        #expect(slices.count >= 3)
        for slice in slices {
            #expect(Set(slice.keys) == [names.vgpu, names.vgpuMemory, names.vgpuCompute])
            #expect(slice.values.allSatisfy { Int($0) != nil })
        }

        // The default-profile variant names the same verbs and resources.
        let defaultProfile = try #require(try Self.documents("scheduler/default-scheduler-extender.yaml").first)
        let defaultExtender = try #require((defaultProfile["extenders"] as? [Object])?.first)
        #expect(defaultExtender["bindVerb"] as? String == "bind")
        #expect((defaultExtender["managedResources"] as? [Object])?.count == 3)
    }

    @Test func helmChartValuesCoverEveryTemplateReference() throws {
        let chart = try #require(try Self.documents("helm/tessera/Chart.yaml").first)
        #expect(chart["apiVersion"] as? String == "v2" && chart["name"] as? String == "tessera")
        let values = try #require(try Self.documents("helm/tessera/values.yaml").first)
        let templates = Self.root.appendingPathComponent("helm/tessera/templates")
        let files = try FileManager.default.contentsOfDirectory(atPath: templates.path).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files == ["controller.yaml", "monitoring.yaml", "namespace.yaml", "node.yaml", "rbac.yaml", "scheduler.yaml"])
        var references = 0
        for file in files {
            let text = try String(contentsOf: templates.appendingPathComponent(file), encoding: .utf8)
            for path in Self.valueReferences(in: text) {
                references += 1
                var current: Any? = values
                for key in path { current = (current as? Object)?[key] }
                #expect(current != nil, "\(file): .Values.\(path.joined(separator: ".")) is not in values.yaml")
            }
            // With values substituted the template is YAML again, and names the same objects as deploy/.
            let rendered = Self.render(text, values: values)
            let objects = try Yams.load_all(yaml: rendered).compactMap { $0 as? Object }
            #expect(!objects.isEmpty || file == "namespace.yaml", "\(file)")
        }
        #expect(references > 40)
        let plainNames = Set(try Self.plainManifests().compactMap { "\($0["kind"] ?? "")/\(($0["metadata"] as? Object)?["name"] ?? "")" })
        var chartNames = Set<String>()
        for file in files {
            let rendered = Self.render(try String(contentsOf: templates.appendingPathComponent(file), encoding: .utf8), values: values)
            for object in try Yams.load_all(yaml: rendered).compactMap({ $0 as? Object }) {
                chartNames.insert("\(object["kind"] ?? "")/\((object["metadata"] as? Object)?["name"] ?? "")")
            }
        }
        #expect(chartNames == plainNames)
    }

    /// The Secret and key a file path of `container` comes from (through a `secret` volume mounted above it).
    static func secretKey(mountedAt path: String, in workload: Object, container name: String) throws -> (secret: String, key: String) {
        let pod = try #require(podSpec(workload))
        let container = try #require((pod["containers"] as? [Object])?.first { $0["name"] as? String == name })
        for mount in (container["volumeMounts"] as? [Object]) ?? [] {
            guard let mountPath = mount["mountPath"] as? String, path.hasPrefix(mountPath + "/") else { continue }
            let volume = try #require((pod["volumes"] as? [Object])?.first { $0["name"] as? String == mount["name"] as? String })
            let secret = try #require(volume["secret"] as? Object)
            let file = String(path.dropFirst(mountPath.count + 1))
            let items = (secret["items"] as? [Object]) ?? []
            let key = items.first { $0["path"] as? String == file }?["key"] as? String ?? file
            return (try #require(secret["secretName"] as? String), key)
        }
        throw TestFailure("\(path) is on no secret volume of \(name)")
    }

    struct TestFailure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// `.Values.a.b` paths in a template.
    static func valueReferences(in text: String) -> [[String]] {
        var result: [[String]] = []
        var rest = Substring(text)
        while let range = rest.range(of: ".Values.") {
            rest = rest[range.upperBound...]
            let path = rest.prefix { $0.isLetter || $0.isNumber || $0 == "." || $0 == "_" }
            result.append(path.split(separator: ".").map(String.init))
        }
        return result
    }

    /// A minimal rendering for the test: `{{ .Values.x }}` becomes the value, `toYaml … | nindent n` the value
    /// as YAML, control lines (`{{- if …}}`, `{{- end }}`) vanish.
    static func render(_ text: String, values: Object) -> String {
        func lookup(_ path: String) -> Any? {
            var current: Any? = values
            for key in path.split(separator: ".").dropFirst(1) { current = (current as? Object)?[String(key)] }
            return current
        }
        var lines: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("{{- if") || trimmed.hasPrefix("{{- end") || trimmed.hasPrefix("{{ if") || trimmed.hasPrefix("{{ end") { continue }
            if let open = line.range(of: "{{-"), line.contains("nindent") {
                let expression = line[open.upperBound...].trimmingCharacters(in: .whitespaces)
                let path = expression.split(separator: " ").first { $0.hasPrefix(".Values.") }.map(String.init) ?? ""
                let indent = Int(expression.split(separator: " ").last { Int($0) != nil } ?? "0") ?? 0
                let value = lookup(path)
                let yaml = (value as? String) ?? ((try? Yams.dump(object: value)) ?? "")
                let pad = String(repeating: " ", count: indent)
                lines.append(contentsOf: yaml.split(separator: "\n").map { pad + $0 })
                continue
            }
            var rendered = String(line)
            while let start = rendered.range(of: "{{"), let end = rendered.range(of: "}}", range: start.upperBound..<rendered.endIndex) {
                let expression = rendered[start.upperBound..<end.lowerBound].trimmingCharacters(in: .whitespaces)
                rendered.replaceSubrange(start.lowerBound..<end.upperBound, with: "\(lookup(expression) ?? "")")
            }
            lines.append(rendered)
        }
        return lines.joined(separator: "\n")
    }
}
