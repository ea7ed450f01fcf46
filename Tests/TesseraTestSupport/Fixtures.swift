import TesseraKubernetes
import TesseraPlacement

/// Pods and kube-scheduler JSON as the real components write them.
public enum Fixtures {
    public static func uid(_ n: Int) -> String {
        let hex = String(n, radix: 16)
        return "4c0f9a2e-1b7d-4e35-9a61-" + String(repeating: "0", count: 12 - hex.count) + hex
    }

    public static func node(_ name: String, gpus: Int, model: String = "A100", memoryMiB: Int = 81_920) -> PlacementNode {
        PlacementNode(
            name: name, cpuMilli: 64_000, memoryMiB: 262_144,
            gpus: Array(repeating: GPU(model: model, memoryMiB: memoryMiB), count: gpus))
    }

    /// A student pod as the API server stores it.
    public static func pod(
        _ name: String, uid: String, namespace: String = "students", vgpus: Int = 1, memory: Int? = 4096,
        compute: Int? = 25, annotations: [String: String] = [:]
    ) -> Pod {
        var limits = ["tessera.dev/vgpu": "\(vgpus)", "cpu": "2", "memory": "8Gi"]
        if let memory { limits["tessera.dev/vgpu-memory"] = "\(memory)" }
        if let compute { limits["tessera.dev/vgpu-compute"] = "\(compute)" }
        return Pod(
            metadata: .init(name: name, namespace: namespace, uid: uid, annotations: annotations),
            spec: .init(containers: [.init(name: "notebook", resources: .init(limits: limits, requests: limits))],
                        schedulerName: "tessera-scheduler"),
            status: .init(phase: "Pending"))
    }

    /// The pod's JSON with the fields a real API object carries besides those Tessera reads.
    public static func podJSON(_ pod: Pod) -> String {
        let limits = pod.spec.containers[0].resources?.limits ?? [:]
        let quantities = limits.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",")
        let annotations = (pod.metadata.annotations ?? [:]).map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",")
        return """
            {"kind":"Pod","apiVersion":"v1","metadata":{"name":"\(pod.metadata.name)","namespace":"\(pod.metadata.namespace!)",\
            "uid":"\(pod.metadata.uid!)","resourceVersion":"48213","creationTimestamp":"2026-11-29T10:00:00Z",\
            "labels":{"app":"jupyterhub","component":"singleuser-server"},"annotations":{\(annotations)}},\
            "spec":{"containers":[{"name":"notebook","image":"quay.io/jupyter/scipy-notebook:2026-11-01",\
            "resources":{"limits":{\(quantities)},"requests":{\(quantities)}},"terminationMessagePath":"/dev/termination-log",\
            "imagePullPolicy":"IfNotPresent"}],"restartPolicy":"Always","terminationGracePeriodSeconds":30,\
            "schedulerName":"tessera-scheduler","priority":0,"tolerations":[{"key":"node.kubernetes.io/not-ready",\
            "operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]},"status":{"phase":"Pending","qosClass":"Guaranteed"}}
            """
    }

    /// kube-scheduler's `ExtenderArgs` for a node-cache-capable extender.
    public static func argsWithNames(_ pod: Pod, _ names: [String]) -> String {
        let list = names.map { "\"\($0)\"" }.joined(separator: ",")
        return #"{"Pod":\#(podJSON(pod)),"Nodes":null,"NodeNames":[\#(list)]}"#
    }

    /// kube-scheduler's `ExtenderArgs` with full node objects.
    public static func argsWithNodes(_ pod: Pod, _ names: [String]) -> String {
        let items = names.map {
            #"{"metadata":{"name":"\#($0)","labels":{"kubernetes.io/hostname":"\#($0)"}},"status":{"allocatable":{"tessera.dev/vgpu":"16"}}}"#
        }.joined(separator: ",")
        return #"{"Pod":\#(podJSON(pod)),"Nodes":{"metadata":{},"items":[\#(items)]},"NodeNames":null}"#
    }

    public static func bindingArgs(_ pod: Pod, node: String) -> String {
        #"{"PodName":"\#(pod.metadata.name)","PodNamespace":"\#(pod.metadata.namespace!)","PodUID":"\#(pod.metadata.uid!)","Node":"\#(node)"}"#
    }
}
