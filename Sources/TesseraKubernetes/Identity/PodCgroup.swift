/// Reads which pod a process belongs to from its cgroup membership (`/proc/<pid>/cgroup`), a fact the kernel
/// keeps and a container cannot forge — unlike its environment.
///
/// The kubelet puts every container under its pod's cgroup: `…/kubepods/<qos>/pod<uid>/<container>` with the
/// cgroupfs driver, `…/kubepods-<qos>-pod<uid_with_underscores>.slice/…` with the systemd driver, on cgroup
/// v1 and v2 alike.
public enum PodCgroup {
    /// The pod UID in the contents of a `/proc/<pid>/cgroup` file; `nil` when the process is in no pod.
    public static func podUID(inCgroupFile text: String) -> String? {
        for line in text.split(separator: "\n") {
            // hierarchy-ID:controllers:path — the path may itself contain ':' on no known system, but be safe.
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            for component in fields[2].split(separator: "/") {
                if let uid = podUID(inComponent: component) { return uid }
            }
        }
        return nil
    }

    private static func podUID(inComponent component: Substring) -> String? {
        var name = component
        if name.hasSuffix(".slice") {
            name = name.dropLast(".slice".count)
            // kubepods-burstable-pod<uid>.slice: the pod part is the last dash-separated segment.
            guard let dash = name.lastIndex(of: "-") else { return nil }
            name = name[name.index(after: dash)...]
        }
        guard name.hasPrefix("pod") else { return nil }
        let uid = String(name.dropFirst(3)).replacingUnderscores()
        return isUID(uid) ? uid : nil
    }

    /// Whether `text` has the 8-4-4-4-12 hexadecimal shape of a Kubernetes UID.
    static func isUID(_ text: String) -> Bool {
        let groups = text.split(separator: "-", omittingEmptySubsequences: false)
        guard groups.map(\.count) == [8, 4, 4, 4, 12] else { return false }
        return groups.allSatisfy { $0.allSatisfy(\.isHexDigit) }
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String { String(map { $0 == "_" ? "-" : $0 }) }
}
