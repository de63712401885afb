//! A real control plane for tests: etcd and kube-apiserver on loopback, RBAC on, a
//! client-certificate admin and a kubeconfig; and `Process`, how every binary a test runs is
//! started and watched.
//!
//! The control plane starts once per test binary. Every process is started under a small
//! watchdog that kills it when the test process exits, also after a panic, so nothing is left
//! running. One test's namespace, emulator and operator are `env::TestEnv`.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use serde_json::Value;

/// Where `scripts/tools.sh` puts the binaries: `RECOMMENDER_TOOLS_BIN` (which `scripts/test.sh`
/// sets), or what the script itself says, since its cache directory is keyed by a hash of how
/// the tools are built.
pub fn tools_bin() -> PathBuf {
    if let Ok(dir) = std::env::var("RECOMMENDER_TOOLS_BIN") {
        return PathBuf::from(dir);
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/tools.sh");
    let out = Command::new("bash")
        .args([script, "bin-dir"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {script} ({e}): bash and Go are needed"));
    assert!(
        out.status.success(),
        "`bash scripts/tools.sh bin-dir` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// A tool's path; fails the test with the fix when it is missing.
pub fn tool(name: &str) -> PathBuf {
    let path = tools_bin().join(name);
    assert!(
        path.exists(),
        "{name} is missing at {}: run `bash scripts/tools.sh` to build the pinned Kubernetes tools",
        path.display()
    );
    path
}

/// A binary of this workspace, built next to the test binary.
pub fn workspace_bin(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_recommender-operator"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` first",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Kills the child when the test process (`$1`) is gone or the child ends on its own: SIGTERM,
/// then SIGKILL after 5 s (kube-apiserver can take minutes to shut down once etcd is gone).
const WATCHDOG: &str = r#"parent=$1; shift
"$@" & child=$!
stop() {
  kill $child 2>/dev/null
  for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 $child 2>/dev/null || exit 0; sleep 0.5; done
  kill -9 $child 2>/dev/null
}
trap 'stop; exit 0' TERM INT
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.5; done
stop"#;

/// A process started under the watchdog, its output kept in a log file.
pub struct Process {
    pub name: String,
    child: Child,
    pub log: PathBuf,
}

impl Process {
    pub fn start(
        name: &str,
        program: &Path,
        args: &[String],
        envs: &[(&str, String)],
        log: PathBuf,
    ) -> Self {
        let log_file = std::fs::File::create(&log).expect("create log file");
        let child = Command::new("bash")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("watchdog")
            .arg(std::process::id().to_string())
            .arg(program)
            .args(args)
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log handle"))
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        Self {
            name: name.to_owned(),
            child,
            log,
        }
    }

    /// The log so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits until the log contains `needle`; fails with the log when the process dies or time
    /// runs out.
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let out = self.output();
            if let Some(line) = out.lines().find(|l| l.contains(needle)) {
                return line.to_owned();
            }
            assert!(
                self.is_running(),
                "{} exited before printing {needle:?}:\n{out}",
                self.name
            );
            assert!(
                Instant::now() < deadline,
                "{} did not print {needle:?} in {timeout:?}:\n{out}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the process has exited on its own.
    pub fn wait_for_exit(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.is_running() {
            assert!(
                Instant::now() < deadline,
                "{} still runs after {timeout:?}:\n{}",
                self.name,
                tail(&self.output(), 40)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the process (SIGTERM to the watchdog, which passes it on) and waits for it.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }

    /// SIGKILL: no clean shutdown for the program.
    pub fn kill_hard(&mut self) {
        let _ = Command::new("pkill")
            .args(["-KILL", "-P", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "----- {} log ({}) -----\n{}",
                self.name,
                self.log.display(),
                tail(&self.output(), 120)
            );
        }
        self.stop();
    }
}

/// The last `lines` lines of `text`, for failure messages.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The shared control plane.
pub struct ControlPlane {
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
    pub server: String,
    _etcd: Process,
    _apiserver: Process,
}

static CONTROL_PLANE: OnceLock<ControlPlane> = OnceLock::new();

/// Starts etcd and kube-apiserver the first time it is called in this test binary.
pub fn control_plane() -> &'static ControlPlane {
    CONTROL_PLANE.get_or_init(ControlPlane::start)
}

impl ControlPlane {
    fn start() -> Self {
        let etcd_bin = tool("etcd");
        let apiserver_bin = tool("kube-apiserver");
        tool("kubectl");
        let dir =
            std::env::temp_dir().join(format!("recommender-operator-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("etcd")).expect("create test dir");
        let pki = Pki::write(&dir);

        let (client, peer) = (free_port(), free_port());
        let mut etcd = Process::start(
            "etcd",
            &etcd_bin,
            &[
                "--name=default".into(),
                format!("--data-dir={}", dir.join("etcd").display()),
                format!("--listen-client-urls=http://127.0.0.1:{client}"),
                format!("--advertise-client-urls=http://127.0.0.1:{client}"),
                format!("--listen-peer-urls=http://127.0.0.1:{peer}"),
                format!("--initial-advertise-peer-urls=http://127.0.0.1:{peer}"),
                format!("--initial-cluster=default=http://127.0.0.1:{peer}"),
                "--unsafe-no-fsync=true".into(),
                "--log-level=warn".into(),
            ],
            &[],
            dir.join("etcd.log"),
        );
        wait_until(Duration::from_secs(60), "etcd is healthy", || {
            assert!(etcd.is_running(), "etcd exited:\n{}", etcd.output());
            reqwest::blocking::get(format!("http://127.0.0.1:{client}/health"))
                .is_ok_and(|r| r.status().is_success())
        });

        let port = free_port();
        let server = format!("https://127.0.0.1:{port}");
        let p = |f: &str| dir.join(f).display().to_string();
        let mut apiserver = Process::start(
            "kube-apiserver",
            &apiserver_bin,
            &[
                format!("--etcd-servers=http://127.0.0.1:{client}"),
                format!("--cert-dir={}", p("certs")),
                format!("--tls-cert-file={}", p("server.crt")),
                format!("--tls-private-key-file={}", p("server.key")),
                format!("--client-ca-file={}", p("ca.crt")),
                format!("--secure-port={port}"),
                "--bind-address=127.0.0.1".into(),
                "--service-cluster-ip-range=10.0.0.0/24".into(),
                "--allow-privileged=true".into(),
                "--disable-admission-plugins=ServiceAccount".into(),
                "--authorization-mode=RBAC".into(),
                format!("--service-account-issuer={server}/"),
                format!("--service-account-key-file={}", p("sa.pub")),
                format!("--service-account-signing-key-file={}", p("sa.key")),
            ],
            &[],
            dir.join("kube-apiserver.log"),
        );
        let kubeconfig = dir.join("kubeconfig");
        std::fs::write(&kubeconfig, pki.kubeconfig(&server, &dir)).expect("write kubeconfig");
        wait_until(Duration::from_secs(180), "kube-apiserver is ready", || {
            assert!(
                apiserver.is_running(),
                "kube-apiserver exited:\n{}",
                tail(&apiserver.output(), 60)
            );
            kubectl_command(&kubeconfig)
                .args(["get", "--raw", "/readyz"])
                .output()
                .is_ok_and(|o| o.status.success())
        });
        Self {
            dir,
            kubeconfig,
            server,
            _etcd: etcd,
            _apiserver: apiserver,
        }
    }

    /// Runs kubectl against this control plane.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        kubectl_command(&self.kubeconfig)
            .args(args)
            .output()
            .expect("run kubectl")
    }

    /// Runs kubectl with `input` on standard input.
    pub fn kubectl_stdin(&self, args: &[&str], input: &str) -> Output {
        with_stdin(kubectl_command(&self.kubeconfig).args(args), input)
    }

    /// Runs kubectl and fails the test with its output unless it succeeds; returns stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        succeeded("kubectl", args, self.kubectl(args))
    }

    /// `namespace`, empty: deleted (with whatever an earlier run left in it) and created again.
    pub fn fresh_namespace(&self, namespace: &str) {
        let _ = self.kubectl(&[
            "delete",
            "namespace",
            namespace,
            "--wait=true",
            "--ignore-not-found",
        ]);
        self.kubectl_ok(&["create", "namespace", namespace]);
    }

    /// A JSON object from `kubectl get -o json`.
    pub fn get_json(&self, args: &[&str]) -> Value {
        let mut all = vec!["get", "-o", "json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.kubectl_ok(&all)).expect("kubectl prints JSON")
    }

    /// Installs the CRD from `crds/` and waits until it is served.
    pub fn install_crd(&self) {
        let crds = concat!(env!("CARGO_MANIFEST_DIR"), "/crds/");
        self.kubectl_ok(&["apply", "--server-side", "--force-conflicts", "-f", crds]);
        self.kubectl_ok(&[
            "wait",
            "--for=condition=Established",
            "crd/recommendermodels.pinpoint.recommenders.dev",
            "--timeout=60s",
        ]);
    }

    /// What the kubelet would mount for the one container of the pod spec `pod` in `namespace`,
    /// done on the host: each ConfigMap volume's keys written as files into a directory of its
    /// own under the test directory. Returns `args` with each mount path replaced by that
    /// directory; fails on any other kind of volume, which a test would have to provide itself.
    pub fn mount_config_maps(&self, namespace: &str, pod: &Value, args: &[String]) -> Vec<String> {
        let mounts = pod["containers"][0]["volumeMounts"].as_array().cloned();
        let volumes = pod["volumes"].as_array().cloned().unwrap_or_default();
        let mut args = args.to_vec();
        for mount in mounts.unwrap_or_default() {
            let volume = volumes
                .iter()
                .find(|v| v["name"] == mount["name"])
                .unwrap_or_else(|| panic!("no volume for the mount {mount}"));
            let Some(name) = volume["configMap"]["name"].as_str() else {
                panic!("the test can only mount ConfigMap volumes: {volume}");
            };
            let dir = self.dir.join(format!("{namespace}-{name}"));
            std::fs::create_dir_all(&dir).expect("create the mount directory");
            let map = self.get_json(&["configmap", name, "-n", namespace]);
            for (key, value) in map["data"].as_object().into_iter().flatten() {
                let value = value.as_str().expect("ConfigMap data are strings");
                std::fs::write(dir.join(key), value).expect("write a mounted file");
            }
            let path = mount["mountPath"].as_str().expect("mountPath");
            for arg in &mut args {
                *arg = arg.replace(path, &dir.display().to_string());
            }
        }
        args
    }

    /// kube-controller-manager running only `controllers` (such as
    /// `clusterrole-aggregation-controller`) against this control plane as the admin, without
    /// leader election or a serving port: what a test needs of it and no more. Stopped when the
    /// returned process is dropped.
    pub fn start_controller_manager(&self, controllers: &[&str]) -> Process {
        let name = "kube-controller-manager";
        Process::start(
            name,
            &tool(name),
            &[
                format!("--kubeconfig={}", self.kubeconfig.display()),
                format!("--controllers={}", controllers.join(",")),
                "--leader-elect=false".into(),
                "--secure-port=0".into(),
            ],
            &[],
            self.dir.join(format!("{name}.log")),
        )
    }
}

const TEST_DIR_PREFIX: &str = "recommender-operator-test-";

/// Removes the directories of earlier test runs whose process is gone (a static's destructor
/// never runs, so each run cleans up after the ones before it).
fn remove_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(TEST_DIR_PREFIX)) else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn kubectl_command(kubeconfig: &Path) -> Command {
    let mut command = Command::new(tool("kubectl"));
    command.arg(format!("--kubeconfig={}", kubeconfig.display()));
    command
}

/// Runs `command` with `input` on its standard input.
pub fn with_stdin(command: &mut Command, input: &str) -> Output {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the command");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("the command finishes")
}

/// Fails the test with the output of `program args` unless it succeeded; returns its stdout.
pub fn succeeded(program: &str, args: &[&str], out: Output) -> String {
    assert!(
        out.status.success(),
        "{program} {} failed:\n{}{}",
        args.join(" "),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Polls `ready` until it holds; fails the test after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A CA, the API server's serving certificate, the admin's client certificate and the service
/// account signing key, all made fresh for each run.
struct Pki;

impl Pki {
    fn write(dir: &Path) -> Self {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "recommender-operator-test-ca");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca_params, &ca_key);

        let server_key = KeyPair::generate().expect("server key");
        let mut server_params =
            CertificateParams::new(vec!["localhost".to_owned()]).expect("server params");
        server_params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server_params
            .signed_by(&server_key, &issuer)
            .expect("server certificate");

        let admin_key = KeyPair::generate().expect("admin key");
        let mut admin_params = CertificateParams::new(Vec::<String>::new()).expect("admin params");
        admin_params
            .distinguished_name
            .push(DnType::CommonName, "admin");
        admin_params
            .distinguished_name
            .push(DnType::OrganizationName, "system:masters");
        admin_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let admin_cert = admin_params
            .signed_by(&admin_key, &issuer)
            .expect("admin certificate");

        let sa_key = KeyPair::generate().expect("service account key");
        let files = [
            ("ca.crt", ca_cert.pem()),
            ("server.crt", server_cert.pem()),
            ("server.key", server_key.serialize_pem()),
            ("admin.crt", admin_cert.pem()),
            ("admin.key", admin_key.serialize_pem()),
            ("sa.key", sa_key.serialize_pem()),
            ("sa.pub", sa_key.public_key_pem()),
        ];
        for (name, pem) in files {
            std::fs::write(dir.join(name), pem).expect("write PKI file");
        }
        Pki
    }

    fn kubeconfig(&self, server: &str, dir: &Path) -> String {
        let p = |f: &str| dir.join(f).display().to_string();
        format!(
            "apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: {server}
    certificate-authority: {ca}
users:
- name: admin
  user:
    client-certificate: {crt}
    client-key: {key}
contexts:
- name: test
  context: {{cluster: test, user: admin, namespace: default}}
current-context: test
",
            ca = p("ca.crt"),
            crt = p("admin.crt"),
            key = p("admin.key"),
        )
    }
}
