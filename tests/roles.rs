//! The chart's ClusterRoles for people and scrapers, asked of the real API server's authorizer
//! (`kubectl auth can-i --as`): through Kubernetes' built-in `admin`, `edit` and `view` roles a
//! namespace's admins and editors manage its models and its viewers read them; the
//! `metrics-reader` role lets its subjects, and only them, get `/metrics`.
//!
//! Aggregation (copying the rules of every ClusterRole labelled `aggregate-to-admin` and so on into
//! the built-in roles) is kube-controller-manager's `clusterrole-aggregation-controller`, not the
//! API server's, so this test runs that one controller beside the control plane.
//!
//! Needs the tools from `bash scripts/tools.sh` (kube-controller-manager among them).

mod support;

use std::time::Duration;

use support::{
    cluster::{ControlPlane, control_plane, text, wait_until},
    deploy::{
        CRD, DEFAULT_RELEASE, MODELS, Release,
        Scope::{AllNamespaces, Namespace},
        ScratchNamespace, assert_rights, can_i, cluster_turn,
    },
};

const MODEL_STATUS: &str = "recommendermodels.pinpoint.recommenders.dev/status";
/// The namespace the users are bound in, and one they are not.
const TEAM: &str = "roles-team";
const OTHER: &str = "roles-other";
/// Bound to the built-in roles in TEAM by RoleBindings, as a namespace's owner would be.
const ADMIN: &str = "alice";
const EDITOR: &str = "bob";
const VIEWER: &str = "carol";
/// No binding at all.
const STRANGER: &str = "dave";
/// The scraper the chart binds to its metrics-reader role (value metrics.readers).
const SCRAPER_NAMESPACE: &str = "monitoring";
const SCRAPER: &str = "prometheus";

/// `kubectl auth can-i VERB URL --as=SUBJECT` for a non-resource URL such as `/metrics`.
fn can_i_url(plane: &ControlPlane, subject: &str, verb: &str, url: &str) -> bool {
    let args = ["auth", "can-i", verb, url, &format!("--as={subject}")];
    let out = plane.kubectl(&args);
    let stdout = text(&out.stdout);
    match (stdout.trim(), out.status.code()) {
        ("yes", Some(0)) => true,
        ("no", Some(1)) => false,
        _ => panic!(
            "kubectl {} answered neither yes nor no:\n{stdout}{}",
            args.join(" "),
            text(&out.stderr)
        ),
    }
}

#[test]
fn aggregated_roles_give_namespace_users_their_rights_on_models() {
    let plane = control_plane();
    let turn = cluster_turn();
    let _team = ScratchNamespace::new(plane, &turn, TEAM);
    let _other = ScratchNamespace::new(plane, &turn, OTHER);

    // The chart as a platform team installs it for some namespaces: the aggregated roles and the
    // metrics roles are cluster-wide all the same. It also installs the CRD, which `auth can-i`
    // needs to resolve the resource's group.
    let readers = format!(
        "metrics.readers[0].name={SCRAPER},metrics.readers[0].namespace={SCRAPER_NAMESPACE}"
    );
    let watch = format!("watchNamespaces={{{TEAM}}}");
    let release = Release::install(
        plane,
        &turn,
        DEFAULT_RELEASE,
        DEFAULT_RELEASE,
        &["--set", &watch, "--set", &readers],
    );
    plane.kubectl_ok(&["wait", "--for=condition=Established", CRD, "--timeout=60s"]);

    for (name, role, user) in [
        ("admins", "admin", ADMIN),
        ("editors", "edit", EDITOR),
        ("viewers", "view", VIEWER),
    ] {
        plane.kubectl_ok(&[
            "create",
            "rolebinding",
            name,
            "-n",
            TEAM,
            &format!("--clusterrole={role}"),
            &format!("--user={user}"),
        ]);
    }

    // The bindings hold at once, but the built-in roles say nothing of models until the
    // controller has copied the chart's rules into them.
    let team = Namespace(TEAM);
    assert!(
        !can_i(plane, ADMIN, "create", MODELS, team),
        "admin grants models before any aggregation"
    );
    let mut controller_manager =
        plane.start_controller_manager(&["clusterrole-aggregation-controller"]);
    wait_until(
        Duration::from_secs(120),
        "kube-controller-manager aggregates the chart's roles into admin, edit and view",
        || {
            assert!(
                controller_manager.is_running(),
                "kube-controller-manager exited:\n{}",
                controller_manager.output()
            );
            can_i(plane, ADMIN, "create", MODELS, team)
                && can_i(plane, EDITOR, "create", MODELS, team)
                && can_i(plane, VIEWER, "list", MODELS, team)
        },
    );

    let other = Namespace(OTHER);
    for user in [ADMIN, EDITOR] {
        assert_rights(
            plane,
            user,
            &[
                (true, "create", MODELS, team),
                (true, "get", MODELS, team),
                (true, "list", MODELS, team),
                (true, "watch", MODELS, team),
                (true, "update", MODELS, team),
                (true, "patch", MODELS, team),
                (true, "delete", MODELS, team),
                (true, "deletecollection", MODELS, team),
                (true, "get", MODEL_STATUS, team),
                // Status is the operator's to write.
                (false, "patch", MODEL_STATUS, team),
                (false, "update", MODEL_STATUS, team),
                // A RoleBinding reaches its own namespace only.
                (false, "get", MODELS, other),
                (false, "create", MODELS, other),
                (false, "list", MODELS, AllNamespaces),
            ],
        );
    }
    assert_rights(
        plane,
        VIEWER,
        &[
            (true, "get", MODELS, team),
            (true, "list", MODELS, team),
            (true, "watch", MODELS, team),
            (true, "get", MODEL_STATUS, team),
            (false, "create", MODELS, team),
            (false, "update", MODELS, team),
            (false, "patch", MODELS, team),
            (false, "delete", MODELS, team),
            (false, "deletecollection", MODELS, team),
            (false, "patch", MODEL_STATUS, team),
            (false, "get", MODELS, other),
        ],
    );
    assert_rights(
        plane,
        STRANGER,
        &[
            (false, "get", MODELS, team),
            (false, "list", MODELS, team),
            (false, "watch", MODELS, team),
            (false, "create", MODELS, team),
            (false, "delete", MODELS, team),
            (false, "get", MODEL_STATUS, team),
            (false, "list", MODELS, AllNamespaces),
        ],
    );

    // /metrics: the ServiceAccount named in metrics.readers may get it, nobody else may, and the
    // operator's own ServiceAccount may review the tokens and access of those who try, although
    // it watches one namespace only (the reviews are cluster-scoped).
    let scraper = format!("system:serviceaccount:{SCRAPER_NAMESPACE}:{SCRAPER}");
    assert!(
        can_i_url(plane, &scraper, "get", "/metrics"),
        "{scraper} may get /metrics"
    );
    for subject in [
        STRANGER,
        ADMIN,
        VIEWER,
        "system:serviceaccount:monitoring:default",
    ] {
        assert!(
            !can_i_url(plane, subject, "get", "/metrics"),
            "{subject} may not get /metrics"
        );
    }
    let operator = release.subject();
    assert!(
        !can_i_url(plane, &operator, "get", "/metrics"),
        "the operator does not read its own metrics"
    );
    assert_rights(
        plane,
        &operator,
        &[
            (
                true,
                "create",
                "tokenreviews.authentication.k8s.io",
                AllNamespaces,
            ),
            (
                true,
                "create",
                "subjectaccessreviews.authorization.k8s.io",
                AllNamespaces,
            ),
            (true, "list", MODELS, team),
            (false, "list", MODELS, other),
        ],
    );
}
