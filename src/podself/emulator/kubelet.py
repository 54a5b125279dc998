"""``podself run``: read the manifest, make the pod, project its volumes, run its containers.

Init containers run one after another (a failure stops the pod); then the containers run
together until they all exit, ``--timeout`` passes, or SIGINT/SIGTERM/SIGHUP arrives: every
container's process group gets SIGTERM, then every process of it SIGKILL after the grace
period (see :class:`~podself.emulator.tracking.ProcessTracker`). Label and
annotation changes (``podself label``/``annotate``, or an edit of the manifest) are projected
into the Downward API volumes after the sync delay. A resize (``podself resize``) sets the
containers' cpu and memory cgroups at once, or restarts a container whose ``resizePolicy``
asks for it, and is projected into the volumes the same way. The state directory is removed
on every exit path.

Exit status: 0 when every container that ran succeeded or was stopped by podself (timeout,
signal); otherwise the exit code of the first container that failed (``128 + N`` for a death
by signal ``N``, 128 when it could not be started); 1 when the pod could not start
(unresolvable env or volume); 2 for an invalid manifest or usage.

One module on purpose: :class:`Kubelet` is the pod's lifecycle (start, live updates, resize,
stop, status), one state machine whose transitions read best together; the parts it drives
have modules of their own (env, volumes, mounts, supervisor, tracking, resize, state).
"""

from __future__ import annotations

import contextlib
import copy
import os
import shlex
import signal
import stat
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO, Final

from podself.emulator import pod as podlib
from podself.emulator.env import ObjectStore, container_environment, expand_command
from podself.emulator.mounts import (
    ContainerFS,
    DeathSignal,
    MountSpec,
    NamespaceSetup,
    build_root,
    hosts_file_content,
    probe_namespace,
    working_dir,
)
from podself.emulator.output import OutputChannel
from podself.emulator.resize import cgroup_values, infeasible, restart_needed
from podself.emulator.state import (
    PodExistsError,
    PodState,
    default_state_root,
    next_resource_version,
)
from podself.emulator.supervisor import Supervisor, exit_code
from podself.emulator.tracking import ContainerProcess
from podself.emulator.volumes import VolumeSet, resolve_sub_path
from podself.errors import ConfinementError, ManifestError, PodselfError, QuantityError
from podself.manifest.load import DEFAULT_LIMITS, STDIN, Document, load_documents, load_file
from podself.manifest.workloads import Workload, iter_workloads
from podself.validation import validate_config_object

__all__ = [
    "EXIT_INVALID",
    "EXIT_NOT_STARTED",
    "Kubelet",
    "Loaded",
    "RunOptions",
    "load_manifests",
    "merge_applied",
    "select_workload",
]

EXIT_NOT_STARTED: Final = 1
EXIT_INVALID: Final = 2
_DEFAULT_PATH: Final = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_POLL_INTERVAL: Final = 0.25
_PIPE_LINGER: Final = 1.0
_KILL_LINGER: Final = 10.0  # seconds a SIGKILLed container may take to be reaped
_STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class _StoppedBeforeStart(BaseException):
    """A stop signal arrived while the pod was being set up (before its supervisor)."""


@dataclass
class RunOptions:
    """Everything ``podself run`` accepts (see ``podself run --help``)."""

    files: Sequence[str]
    name: str | None = None
    kind: str | None = None
    namespace: str | None = None
    timeout: float | None = None
    grace: float | None = None
    pod_ips: Sequence[str] = ()
    host_ips: Sequence[str] = ()
    node_name: str | None = None
    node_cpu: str | None = None
    node_memory: str | None = None
    entrypoints: Mapping[str, str] = field(default_factory=dict)
    sync_delay: float = 1.0
    state_dir: str | None = None
    no_namespace: bool = False
    host_env: bool = False
    prefix: str = "auto"  # auto | always | never
    verbose: bool = False


# --- manifests -------------------------------------------------------------------------------


@dataclass
class Loaded:
    """Documents read from the ``-f`` files, the workloads among them and the objects."""

    documents: list[tuple[str, Document]]
    workloads: list[tuple[str, Workload]]
    objects_raw: list[Mapping[str, Any]]


def load_manifests(files: Sequence[str]) -> Loaded:
    """Read every ``-f`` file (``-`` is stdin) with the safe loader."""
    return _collect((path, load_file(path)) for path in files)


def _collect(sources: Iterable[tuple[str, list[Document]]]) -> Loaded:
    documents: list[tuple[str, Document]] = []
    workloads: list[tuple[str, Workload]] = []
    objects: list[Mapping[str, Any]] = []
    for path, loaded in sources:
        for document in loaded:
            documents.append((path, document))
            data = document.data
            items = [data]
            if isinstance(data, Mapping) and str(data.get("kind", "")).endswith("List"):
                items = [i for i in data.get("items") or [] if isinstance(i, Mapping)]
            objects.extend(i for i in items if isinstance(i, Mapping))
            workloads.extend((path, w) for w in iter_workloads(data))
    return Loaded(documents, workloads, objects)


def _load_edited(path: str) -> Loaded:
    """Re-read the manifest after an edit without ever blocking the running pod: it must
    still be a regular file (a FIFO put in its place would block the open, and with it
    --timeout and every signal), read within the loader's size limit."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        msg = f"cannot read {path}: {exc.strerror or exc}"
        raise ManifestError(msg) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            msg = f"{path}: not a regular file any more"
            raise ManifestError(msg)
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(DEFAULT_LIMITS.max_bytes + 1)
    except OSError as exc:
        msg = f"cannot read {path}: {exc.strerror or exc}"
        raise ManifestError(msg) from None
    finally:
        os.close(fd)
    return _collect([(path, load_documents(data, path))])


def select_workload(
    workloads: Sequence[tuple[str, Workload]], name: str | None, kind: str | None
) -> tuple[str, Workload]:
    """The one workload matching ``--name``/``--kind`` (case-insensitive kind)."""
    matches = [
        (path, w)
        for path, w in workloads
        if (name is None or w.name == name)
        and (kind is None or w.kind.lower() in (kind.lower(), kind.lower().rstrip("s")))
    ]
    if len(matches) == 1:
        return matches[0]
    wanted = " ".join(
        part for part in (f"kind {kind}" if kind else "", f'named "{name}"' if name else "") if part
    )
    if not matches:
        if not workloads:
            msg = "no Pod or workload with a pod template in the given files"
        else:
            found = ", ".join(w.ref for _, w in workloads)
            msg = f"no workload {wanted} (found: {found})"
        raise ManifestError(msg)
    refs = ", ".join(w.ref for _, w in matches)
    what = f"several workloads {wanted}" if wanted else "several workloads"
    msg = f"{what}: {refs}; choose one with --name (and --kind)"
    raise ManifestError(msg)


def merge_applied(
    live: Mapping[str, str], last_applied: Mapping[str, str], new: Mapping[str, str]
) -> dict[str, str]:
    """``kubectl apply``'s three-way merge of one map: keys dropped from the manifest are
    removed, keys in the manifest are set, keys added by other means are kept."""
    result = {k: v for k, v in live.items() if k not in last_applied or k in new}
    result.update(new)
    return result


def _str_map(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


# --- the kubelet -----------------------------------------------------------------------------


@dataclass
class _Container:
    spec: Mapping[str, Any]
    kind: str  # "init", "sidecar" or "regular"
    process: ContainerProcess | None = None
    skipped: bool = False
    reason: str = ""  # waiting reason while not running
    actual: dict[str, Any] | None = None  # resources in its cgroups when they lag the spec
    resize_error: str = ""  # why the last resize could not be actuated in full
    restarting: bool = False  # stopped by a resize whose resizePolicy is RestartContainer
    kill_at: float | None = None  # SIGKILL then, if it has not stopped by itself
    restart_count: int = 0

    @property
    def name(self) -> str:
        return str(self.spec.get("name") or "")


class Kubelet:
    """One ``podself run``: build the pod, run it to completion, clean up; :meth:`run`
    returns the exit status described in the module docstring."""

    def __init__(
        self,
        options: RunOptions,
        *,
        out: BinaryIO | None = None,
        err: IO[str] | None = None,
    ) -> None:
        self.options = options
        # A closed stdout or stderr (``>&-``) leaves None in sys: write to nowhere instead
        # (those files live as long as the process).
        if out is None:
            out = sys.stdout.buffer if sys.stdout is not None else open(os.devnull, "wb")  # noqa: SIM115
        if err is None:
            err = sys.stderr if sys.stderr is not None else open(os.devnull, "w")  # noqa: SIM115
        self.out = out
        self.err = err
        self.pod: dict[str, Any] = {}
        self.state: PodState | None = None
        self.volumes: VolumeSet | None = None
        self.objects = ObjectStore()
        self.node: podlib.NodeInfo | None = None
        self.namespace_mode = False
        self.containers: list[_Container] = []
        self.supervisor: Supervisor | None = None
        self.stopping = False
        self.stop_deadline: float | None = None
        self.first_failure: int | None = None
        self.workload: Workload | None = None
        self.manifest_path: str | None = None
        self.last_applied: tuple[dict[str, str], dict[str, str]] = ({}, {})
        self.sync_at: float | None = None
        self.watch_signatures: dict[str, tuple[int, int, int] | None] = {}
        self.inotify: Any = None
        self.hosts_path: str | None = None
        self.shm_path: str | None = None
        self.init_queue: list[_Container] = []
        self.current_init: _Container | None = None
        self.phase = "init"
        self.err_channel: OutputChannel | None = None
        # A stop signal before the supervisor takes over: raised while setting up (so the
        # state directory is removed), recorded once the clean-up has begun.
        self.early_signal: int | None = None
        self.raise_on_stop = False
        self.hurry = False  # stopped by --timeout or a signal: do not wait long for readers
        self.resize_pending = ""  # why the last resize was not applied (Infeasible)

    # -- output ---------------------------------------------------------------------------

    def say(self, message: str) -> None:
        """A message from podself itself (stderr, prefixed)."""
        self.print_line(f"podself run: {message}")

    def print_line(self, text: str) -> None:
        """A line on stderr, never waiting for its reader (see :class:`OutputChannel`)."""
        if self.err_channel is None:
            self.err_channel = OutputChannel(self.err)
        self.err_channel.write((_terminal_safe(text) + "\n").encode("utf-8", "backslashreplace"))

    def debug(self, message: str) -> None:
        """A message shown with ``--verbose``."""
        if self.options.verbose:
            self.say(message)

    # -- preparation ----------------------------------------------------------------------

    def prepare(self) -> int | None:
        """Load, default and validate; return an exit status to stop with, else None."""
        opts = self.options
        try:
            loaded = load_manifests(opts.files)
            path, workload = select_workload(loaded.workloads, opts.name, opts.kind)
        except ManifestError as exc:
            self.say(str(exc))
            return EXIT_INVALID
        self.workload, self.manifest_path = workload, path
        for name in opts.entrypoints:
            if not any(
                isinstance(c, Mapping) and c.get("name") == name
                for key in ("initContainers", "containers")
                for c in workload.spec.get(key) or []
            ):
                self.say(f'--entrypoint {name}=...: the pod has no container "{name}"')
                return EXIT_INVALID
        try:
            self.node = podlib.local_node(
                opts.node_name, opts.host_ips, opts.node_cpu, opts.node_memory
            )
        except (PodselfError, ValueError) as exc:
            self.say(str(exc))
            return EXIT_INVALID
        decode_error = podlib.decode_failure(workload, namespace=opts.namespace)
        if decode_error is not None:
            self.print_line(
                f'Error from server (BadRequest): error when creating "{path}": ' + decode_error
            )
            return EXIT_INVALID
        errors = podlib.validate_workload(workload, namespace=opts.namespace)
        unknown = [e for e in errors if e.startswith('unknown field "')]
        if unknown:
            # kubectl's strict field validation: the request fails while decoding, before any
            # validation error could be reported.
            version = str(workload.object.get("apiVersion") or "v1").rpartition("/")[2]
            self.print_line(
                f'Error from server (BadRequest): error when creating "{path}": {workload.kind} '
                f'in version "{version}" cannot be handled as a {workload.kind}: strict decoding '
                f"error: {', '.join(unknown)}"
            )
            return EXIT_INVALID
        try:
            self.pod = podlib.make_pod(
                workload, self.node, namespace=opts.namespace, pod_ips=opts.pod_ips
            )
        except (PodselfError, TypeError, ValueError, AttributeError) as exc:
            if not errors:
                self.say(f"{workload.ref}: {exc}")
                return EXIT_INVALID
        if errors:
            pod_name = self.pod.get("metadata", {}).get("name") if workload.kind == "Pod" else None
            message = podlib.invalid_message(workload.kind, pod_name or workload.name, errors)
            self.print_line(message)
            return EXIT_INVALID
        namespace = self.pod["metadata"]["namespace"]
        for obj in loaded.objects_raw:
            # Keys become file names: an object the API server refuses is never projected.
            invalid = validate_config_object(obj, namespace)
            if invalid:
                meta = obj.get("metadata")
                obj_name = meta.get("name") if isinstance(meta, Mapping) else None
                message = podlib.invalid_message(
                    str(obj.get("kind")), str(obj_name or ""), [str(e) for e in invalid]
                )
                with contextlib.suppress(BrokenPipeError, ValueError):
                    print(message, file=self.err, flush=True)
                return EXIT_INVALID
            try:
                self.objects.add(obj, namespace)
            except ManifestError as exc:
                self.say(str(exc))
                return EXIT_INVALID
        self.last_applied = (
            _str_map(workload.metadata.get("labels")),
            _str_map(workload.metadata.get("annotations")),
        )
        return None

    def _containers(self) -> list[_Container]:
        spec = self.pod["spec"]
        result = []
        for init in spec.get("initContainers") or []:
            kind = "sidecar" if init.get("restartPolicy") == "Always" else "init"
            result.append(_Container(init, kind))
        result.extend(_Container(c, "regular") for c in spec.get("containers") or [])
        return result

    def _argv(self, container: Mapping[str, Any], env: Mapping[str, str]) -> list[str] | None:
        command = container.get("command") or []
        args = container.get("args") or []
        name = str(container.get("name"))
        entrypoint = self.options.entrypoints.get(name)
        if command:
            if entrypoint is not None:
                self.say(f'container "{name}" sets command; --entrypoint {name}=... is ignored')
            return expand_command(command, env) + expand_command(args, env)
        if entrypoint is None:
            return None
        return shlex.split(entrypoint) + expand_command(args, env)

    def _base_env(self, hostname: str) -> dict[str, str]:
        if self.options.host_env:
            env = dict(os.environ)
        else:
            env = {"PATH": os.environ.get("PATH") or _DEFAULT_PATH}
            home = "/root" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
            home = home or os.environ.get("HOME")
            if home:
                env["HOME"] = home
        env["HOSTNAME"] = hostname
        return env

    def _mounts(
        self, container: Mapping[str, Any], *, check_only: bool = False
    ) -> tuple[MountSpec, ...]:
        assert self.volumes is not None
        specs: list[MountSpec] = []
        for mount in container.get("volumeMounts") or []:
            volume = self.volumes.volumes[str(mount.get("name"))]
            source = volume.path
            is_file = False
            sub_path = mount.get("subPath")
            if sub_path:
                if check_only and not volume.api_data:
                    continue  # created (if missing) when the container starts, as on a node
                try:
                    source = resolve_sub_path(source, str(sub_path), create=not volume.api_data)
                except ConfinementError as exc:
                    self.debug(f'container "{container.get("name")}": {exc}')
                    msg = (  # the kubelet keeps host paths out of the message, and so do we
                        f'failed to prepare subPath for volumeMount "{mount.get("name")}" of '
                        f'container "{container.get("name")}"'
                    )
                    raise ManifestError(msg) from exc
                is_file = not os.path.isdir(source)
            read_only = bool(mount.get("readOnly")) or volume.api_data
            specs.append(MountSpec(source, str(mount["mountPath"]), read_only, is_file))
        return tuple(specs)

    def _decide_mode(self) -> None:
        assert self.state is not None
        if self.options.no_namespace:
            self.namespace_mode = False
            return
        probe_dir = os.path.join(self.state.containers_dir, ".probe")
        os.mkdir(probe_dir, 0o700)
        try:
            reason = probe_namespace(probe_dir)
        finally:
            with contextlib.suppress(OSError):
                os.rmdir(probe_dir)
        self.namespace_mode = reason is None
        if reason is not None:
            self.say(
                f"no private mount namespace ({reason}); volumes are under a per-container "
                "root exported as PODSELF_ROOT, so absolute paths in commands will not resolve"
            )

    # -- running --------------------------------------------------------------------------

    def run(self) -> int:
        """Run the pod to the end; return the exit status."""
        try:
            return self._run()
        finally:
            if self.err_channel is not None:
                self.err_channel.finish(_PIPE_LINGER)

    def _run(self) -> int:
        status = self.prepare()
        if status is not None:
            return status
        assert self.node is not None
        meta = self.pod["metadata"]
        root = self.options.state_dir or default_state_root()
        with self._stop_handlers():
            try:
                self.raise_on_stop = True
                try:
                    self.state = PodState(root, meta["namespace"], meta["name"])
                    notes = self.state.create(self.pod)
                except PodExistsError as exc:
                    self.state = None  # the live run's state is not ours to remove
                    self.print_line(f"Error from server (AlreadyExists): {exc}")
                    return EXIT_NOT_STARTED
                except (OSError, ManifestError) as exc:
                    self.state = None
                    self.say(f"cannot create the pod state directory under {root}: {exc}")
                    return EXIT_NOT_STARTED
                for note in notes:
                    self.say(note)
                return self._run_pod()
            except _StoppedBeforeStart:
                name = signal.Signals(self.early_signal or signal.SIGTERM).name
                self.say(f"stopped by {name} before the pod started")
                return EXIT_NOT_STARTED
            finally:
                self.raise_on_stop = False
                self._cleanup()

    @contextlib.contextmanager
    def _stop_handlers(self) -> Iterator[None]:
        """SIGINT, SIGTERM and SIGHUP outside the supervisor: during set-up they end it by
        :class:`_StoppedBeforeStart` (the default action would leave the state directory,
        Secrets included); during the clean-up they are only recorded."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def on_stop(signum: int, frame: object) -> None:
            self.early_signal = signum
            if self.raise_on_stop:
                self.raise_on_stop = False
                raise _StoppedBeforeStart

        old = {signum: signal.signal(signum, on_stop) for signum in _STOP_SIGNALS}
        try:
            yield
        finally:
            for signum, handler in old.items():
                signal.signal(signum, handler)

    def _run_pod(self) -> int:
        assert self.state is not None
        assert self.node is not None
        self.volumes = VolumeSet(
            self.pod, self.state.volumes_dir, self.objects, self.node.allocatable
        )
        try:
            self.volumes.setup()
        except (PodselfError, OSError) as exc:
            self.say(f'pod "{self.pod["metadata"]["name"]}": {exc}')
            return EXIT_NOT_STARTED
        for note in dict.fromkeys(self.volumes.notes):
            self.debug(note)
        self.containers = self._containers()
        # Fail fast on what the kubelet would report as CreateContainerConfigError.
        for container in self.containers:
            try:
                container_environment(self.pod, container.spec, self.objects, self.node.allocatable)
                self._mounts(container.spec, check_only=True)
            except (PodselfError, OSError) as exc:
                self.say(f'container "{container.name}": CreateContainerConfigError: {exc}')
                return EXIT_NOT_STARTED
        self._decide_mode()
        if self.namespace_mode:
            # The pod's own /dev/shm: shared by its containers (one IPC namespace in a pod),
            # never the host's (without it each container gets a throw-away layer there).
            shm = os.path.join(self.state.path, "shm")
            try:
                os.mkdir(shm, 0o700)
                os.chmod(shm, 0o1777)
            except OSError as exc:
                self.debug(f"no shared /dev/shm for the pod: {exc}")
            else:
                self.shm_path = shm
        spec = self.pod["spec"]
        if spec.get("hostNetwork") is not True:
            hostname = podlib.pod_hostname(self.pod)
            ips = [e["ip"] for e in self.pod["status"].get("podIPs") or []]
            self.hosts_path = os.path.join(self.state.path, "etc-hosts")
            with open(self.hosts_path, "w", encoding="utf-8") as handle:
                handle.write(hosts_file_content(ips, hostname, self._domain()))
        self.pod["status"]["phase"] = "Running"
        self._setup_watches()
        prefix = self.options.prefix == "always" or (
            self.options.prefix == "auto" and len(self.containers) > 1
        )
        grace = self._grace()
        deadline = (
            time.monotonic() + self.options.timeout if self.options.timeout is not None else None
        )
        if self.err_channel is None:
            self.err_channel = OutputChannel(self.err)
        self.raise_on_stop = False  # from here on the supervisor handles stop signals
        with Supervisor(prefix=prefix, out=self.out, err=self.err_channel) as supervisor:
            self.supervisor = supervisor
            if not supervisor.tracker.limit_roots:
                self.debug(f"cpu and memory limits not enforced: {supervisor.tracker.limits_note}")
            if self.early_signal is not None:  # arrived between the two handlers
                supervisor.signals.append(self.early_signal)
            if self.inotify is not None:
                supervisor.add_reader(self.inotify.fileno(), self._on_inotify)
            self._loop(supervisor, grace, deadline)
        if supervisor.out.dropped:
            self.say(
                f"{supervisor.out.dropped} bytes of container output were dropped: "
                "stdout was not read before the pod stopped"
            )
        return self.first_failure if self.first_failure is not None else 0

    def _hostname(self) -> str:
        if self.pod["spec"].get("hostNetwork") is True:
            return os.uname().nodename if hasattr(os, "uname") else "localhost"
        return podlib.pod_hostname(self.pod)

    def _domain(self) -> str:
        subdomain = self.pod["spec"].get("subdomain")
        if not subdomain:
            return ""
        return f"{subdomain}.{self.pod['metadata']['namespace']}.svc.cluster.local"

    def _start(self, container: _Container) -> None:
        assert self.supervisor is not None
        assert self.node is not None
        assert self.state is not None
        spec = container.spec
        warnings: list[str] = []
        try:
            env_pairs = container_environment(
                self.pod, spec, self.objects, self.node.allocatable, warnings=warnings
            )
        except PodselfError as exc:
            self.say(f'container "{container.name}": CreateContainerConfigError: {exc}')
            container.reason = "CreateContainerConfigError"
            self._record_failure(1)
            return
        for warning in warnings:
            self.say(f"Warning InvalidEnvironmentVariableNames: {warning}")
        hostname = self._hostname()
        env = self._base_env(hostname)
        env.update(env_pairs)
        argv = self._argv(spec, env)
        if argv is None:
            image = spec.get("image") or "(no image)"
            self.say(
                f'container "{container.name}" has no command, and the image entrypoint of '
                f"{image} is not run; skipping it (give one with --entrypoint "
                f"{container.name}=CMD)"
            )
            container.skipped = True
            container.reason = "NoCommand"
            return
        process = ContainerProcess(container.name, argv, env)
        try:
            process.limits = cgroup_values(spec.get("resources") or {})
        except QuantityError as exc:
            self.say(f'container "{container.name}": cpu and memory not limited: {exc}')
        try:
            mounts = self._mounts(spec)
            if self.shm_path is not None and not any(m.target == "/dev/shm" for m in mounts):
                mounts += (MountSpec(self.shm_path, "/dev/shm"),)
            root_dir = os.path.realpath(self.state.root)
            fs = ContainerFS(
                mounts=mounts,
                hostname=hostname,
                scratch=self.state.container_dir(container.name),
                workdir=spec.get("workingDir") or None,
                hosts_file=self.hosts_path,
                hidden=(root_dir,) if root_dir != "/" else (),
            )
            if self.namespace_mode:
                process.preexec = NamespaceSetup(fs, name=container.name)
            else:
                root = os.path.join(fs.scratch, "root")
                fs = ContainerFS(fs.mounts, hostname, root, fs.workdir, None)
                ips = [e["ip"] for e in self.pod["status"].get("podIPs") or []]
                for warning in build_root(fs, ips if self.hosts_path else (), self._domain()):
                    self.say(f'container "{container.name}": {warning}')
                if fs.workdir:
                    process.cwd = fs.workdir
                    if not os.path.isdir(fs.workdir):
                        process.cwd = working_dir(root, fs.workdir)
        except (PodselfError, OSError) as exc:
            # The kubelet's generateContainerConfig failing: the container never starts.
            self.say(f'container "{container.name}": CreateContainerConfigError: {exc}')
            container.reason = "CreateContainerConfigError"
            self._record_failure(1)
            self._write_status()
            return
        if not self.namespace_mode:
            env["PODSELF_ROOT"] = fs.scratch
            process.env = env
            if DeathSignal.available():
                process.preexec = DeathSignal()
            self._warn_absolute_paths(container.name, argv, fs.mounts)
        container.process = process
        if not self.supervisor.start(process):
            self.say(f'container "{container.name}": StartError: {process.start_error}')
            self._record_failure(128)
        for problem in process.limit_problems:
            self.debug(f'container "{container.name}": {problem}')
        self._write_status()

    def _warn_absolute_paths(
        self, name: str, argv: Sequence[str], mounts: Sequence[MountSpec]
    ) -> None:
        text = " ".join(argv)
        used = [m.target for m in mounts if m.target in text]
        if used:
            self.say(
                f'container "{name}": its command names {", ".join(used)}, which only exist '
                "under $PODSELF_ROOT without a mount namespace"
            )

    def _record_failure(self, code: int) -> None:
        if self.first_failure is None and code != 0:
            self.first_failure = code

    def _begin_stop(self, why: str, grace: float) -> None:
        assert self.supervisor is not None
        if self.stopping:
            return
        self.stopping = True
        self.debug(f"stopping the pod ({why})")
        for container in self.containers:
            if container.process is not None and container.process.running:
                self.supervisor.stop(container.process)
        self.stop_deadline = time.monotonic() + grace
        self._write_status()

    def _loop(self, supervisor: Supervisor, grace: float, deadline: float | None) -> None:
        self.init_queue = [c for c in self.containers if c.kind in ("init", "sidecar")]
        self.current_init = None
        self.phase = "init"
        pipe_deadline: float | None = None
        give_up_at: float | None = None
        while True:
            now = time.monotonic()
            # Signals: the first stops the pod with a grace period, a second kills at once.
            while supervisor.signals:
                supervisor.signals.pop(0)
                if self.stopping:
                    self.stop_deadline = now
                    if self.hurry:
                        pipe_deadline = now  # a second signal: stop waiting for readers
                self.hurry = True
                self._begin_stop("signal", grace)
            if deadline is not None and now >= deadline:
                self.hurry = True
                if not self.stopping:
                    self._begin_stop("timeout", grace)
            if self.stopping and self.stop_deadline is not None and now >= self.stop_deadline:
                for container in self.containers:
                    if container.process is not None and container.process.running:
                        supervisor.kill(container.process)
                self.stop_deadline = None
                give_up_at = now + _KILL_LINGER
            for container in self.containers:
                if container.kill_at is not None and now >= container.kill_at:
                    container.kill_at = None
                    if container.process is not None:
                        supervisor.kill(container.process)
            for process in supervisor.reap():
                self._on_exit(process)
            self._poll_watches(now)
            if self.sync_at is not None and now >= self.sync_at:
                self.sync_at = None
                self._sync()
            if not self.stopping:
                self._advance(grace)
            running = any(c.process is not None and c.process.running for c in self.containers)
            if running and give_up_at is not None and now >= give_up_at:
                # SIGKILL has not ended it (a process stuck in the kernel): do not hang.
                for container in self.containers:
                    if container.process is not None and container.process.running:
                        self.say(f'container "{container.name}" did not exit after SIGKILL')
                break
            if self.stopping and not running:
                supervisor.drain()
                if not supervisor.pipes_open and not supervisor.output_pending:
                    break
                # Told to stop (--timeout, a signal): output nobody reads within the linger
                # is dropped. A pod that ended by itself waits for a slow reader, but not for
                # a descendant that escaped tracking and holds a pipe open.
                if self.hurry or not supervisor.output_pending:
                    if pipe_deadline is None:
                        pipe_deadline = now + _PIPE_LINGER
                    elif now >= pipe_deadline:
                        supervisor.force_close_pipes()
                        pipe_deadline = None
                        if self.hurry:
                            break
                else:
                    pipe_deadline = None
            # Woken by signals (SIGCHLD included), output and inotify; otherwise poll.
            idle = 1.0 if self.inotify is not None else _POLL_INTERVAL
            if not supervisor.wakes_on_signals:
                idle = 0.05
            waits = [idle]
            # A moment already passed was acted on above (waiting for it again would spin).
            for moment in (
                deadline,
                self.stop_deadline,
                self.sync_at,
                pipe_deadline,
                give_up_at,
                *(c.kill_at for c in self.containers),
            ):
                if moment is not None and moment > now:
                    waits.append(moment - now)
            supervisor.wait(max(0.0, min(waits)))

    def _advance(self, grace: float) -> None:
        """Move the pod along: the next init container once the current one succeeded, then
        all containers; the end once every container has exited (sidecars are then stopped)."""
        if self.phase == "init":
            current = self.current_init
            if current is not None and current.process is not None:
                if current.process.running:
                    return
                code = exit_code(current.process.returncode or 0)
                if code != 0 and not current.process.stopped:
                    self._begin_stop("init container failed", grace)
                    return
            self.current_init = None
            while self.init_queue and not self.stopping:
                candidate = self.init_queue.pop(0)
                self._start(candidate)
                if self.first_failure is not None:
                    self._begin_stop("init container failed", grace)
                    return
                if candidate.kind == "init" and not candidate.skipped:
                    self.current_init = candidate
                    return
            self.phase = "main"
            for container in self.containers:
                if container.kind == "regular":
                    self._start(container)
        regular = [c for c in self.containers if c.kind == "regular"]
        if any(c.process is not None and c.process.running for c in regular):
            return
        sidecars = [
            c
            for c in self.containers
            if c.kind == "sidecar" and c.process is not None and c.process.running
        ]
        if sidecars:
            self._begin_stop("all containers exited", grace)
        else:
            self.stopping = True
            self._write_status()

    def _on_exit(self, process: ContainerProcess) -> None:
        container = next(c for c in self.containers if c.process is process)
        code = exit_code(process.returncode or 0)
        if container.restarting:
            # Stopped to apply a resize: started again with the new resources (and the env
            # they give), as the kubelet restarts it; the pod goes on.
            container.restarting = False
            container.kill_at = None
            if not self.stopping:
                container.restart_count += 1
                self.debug(f'container "{container.name}" stopped (exit code {code}); restarting')
                self._start(container)
                return
        if process.stopped:
            self.debug(f'container "{container.name}" stopped (exit code {code})')
        else:
            self.debug(f'container "{container.name}" exited with code {code}')
            if code != 0:
                if container.kind == "init":
                    self.say(f'init container "{container.name}" failed with exit code {code}')
                self._record_failure(code)
        self._write_status()

    # -- live labels and annotations ------------------------------------------------------

    def _setup_watches(self) -> None:
        assert self.state is not None
        paths = [self.state.pod_file]
        if self.manifest_path and self.manifest_path != STDIN:
            paths.append(os.path.abspath(self.manifest_path))
        for path in paths:
            self.watch_signatures[path] = _signature(path)
        # pod.json may have been changed (podself label or resize) since it was written and
        # before this point: compared with nothing, it is read once at the first poll.
        self.watch_signatures[self.state.pod_file] = None
        if not sys.platform.startswith("linux"):
            return
        try:
            from podself import _inotify

            watcher = _inotify.Inotify()
            mask = _inotify.IN_CLOSE_WRITE | _inotify.IN_MOVED_TO | _inotify.IN_CREATE
            for directory in {os.path.dirname(p) for p in paths}:
                watcher.add_watch(directory, mask)
        except OSError:
            return
        self.inotify = watcher

    def _on_inotify(self) -> None:
        if self.inotify is not None:
            self.inotify.read()
            self._poll_watches(time.monotonic(), force=True)

    def _poll_watches(self, now: float, *, force: bool = False) -> None:
        for path, old in list(self.watch_signatures.items()):
            new = _signature(path)
            if new == old:
                continue
            self.watch_signatures[path] = new
            if new is None:
                continue
            assert self.state is not None
            if path == self.state.pod_file:
                self._apply_resize()  # at once, as a pod update starts a kubelet sync
                self._schedule_sync(now)
            else:
                self._manifest_changed(path)

    def _schedule_sync(self, now: float) -> None:
        if self.sync_at is None:
            self.sync_at = now + max(0.0, self.options.sync_delay)

    def _manifest_changed(self, path: str) -> None:
        assert self.state is not None
        assert self.workload is not None
        try:
            loaded = _load_edited(path)
            matches = [
                w
                for _, w in loaded.workloads
                if w.kind == self.workload.kind and w.name == self.workload.name
            ]
        except ManifestError as exc:
            self.say(f"ignoring the edited manifest: {exc}")
            return
        if len(matches) != 1:
            self.say(f"ignoring the edited manifest: {self.workload.ref} is no longer in it")
            return
        workload = matches[0]
        # The API server refuses the whole update when the object does not decode or a label or
        # annotation is invalid.
        invalid = podlib.decode_failure(workload)
        if invalid is None:
            errors = podlib.template_metadata_errors(workload)
            if errors:
                invalid = podlib.invalid_message(workload.kind, workload.name, errors)
        if invalid is not None:
            self.say(f"ignoring the edited manifest: {invalid}")
            return
        labels = _str_map(workload.metadata.get("labels"))
        annotations = _str_map(workload.metadata.get("annotations"))
        if dict(workload.spec) != dict(self.workload.spec):
            self.say(
                "the manifest's pod spec changed; only labels and annotations of a running "
                "pod can change (podself resize changes cpu and memory; restart podself run "
                "to apply the rest)"
            )
            self.workload = workload
        old_labels, old_annotations = self.last_applied
        if (labels, annotations) == (old_labels, old_annotations):
            return

        def apply(pod: dict[str, Any]) -> None:
            meta = pod.setdefault("metadata", {})
            merged_labels = merge_applied(_str_map(meta.get("labels")), old_labels, labels)
            merged_annotations = merge_applied(
                _str_map(meta.get("annotations")), old_annotations, annotations
            )
            for key, value in (("labels", merged_labels), ("annotations", merged_annotations)):
                if value:
                    meta[key] = value
                else:
                    meta.pop(key, None)
            meta["resourceVersion"] = next_resource_version(meta)

        try:
            self.state.update_pod(apply)
        except (OSError, ManifestError) as exc:  # a full disk, a pod.json edited by hand
            self.say(f"cannot apply the edited manifest: {exc}")
            return
        self.last_applied = (labels, annotations)
        self.debug("manifest labels/annotations applied to the running pod")

    def _sync(self) -> None:
        assert self.state is not None
        assert self.volumes is not None
        try:
            stored = self.state.read_pod()
        except (OSError, ValueError, ManifestError) as exc:
            self.say(f"cannot read the pod's state: {exc}")
            return
        meta = self.pod["metadata"]
        raw_meta = stored.get("metadata")
        stored_meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        for key in ("labels", "annotations"):
            value = _str_map(stored_meta.get(key))
            if value:
                meta[key] = value
            else:
                meta.pop(key, None)
        meta["resourceVersion"] = stored_meta.get("resourceVersion", meta.get("resourceVersion"))
        try:
            changed = self.volumes.sync(self.pod)
        except (PodselfError, OSError) as exc:
            self.say(str(exc))
            return
        if changed:
            self.debug(f"updated volumes: {', '.join(changed)}")

    # -- in-place resize -------------------------------------------------------------------

    def _apply_resize(self) -> None:
        """Actuate a resize written to ``pod.json`` (the volumes follow at the next sync)."""
        assert self.state is not None
        try:
            stored = self.state.read_pod()
        except (OSError, ValueError, ManifestError):
            return  # reported by the sync that follows
        raw_spec = stored.get("spec")
        if isinstance(raw_spec, dict) and self._resize(raw_spec):
            self._write_status()

    def _resize(self, stored_spec: Mapping[str, Any]) -> bool:
        """Actuate the cpu and memory resources ``podself resize`` wrote (validated there as
        the API server validates them): the containers' cgroups now, the volumes by the sync
        that follows; environment variables keep their values from container start. Whether
        any container was resized."""
        desired = copy.deepcopy(self.pod["spec"])
        for key in ("containers", "initContainers"):
            stored_list = stored_spec.get(key) or []
            for index, entry in enumerate(desired.get(key) or []):
                stored = stored_list[index] if index < len(stored_list) else None
                if isinstance(stored, Mapping) and stored.get("name") == entry.get("name"):
                    entry["resources"] = copy.deepcopy(stored.get("resources") or {})
        if (
            desired == self.pod["spec"]
            and not self.resize_pending
            and not any(c.resize_error for c in self.containers)
        ):
            return False  # no resize (a label change): nothing to check or retry
        assert self.node is not None
        message = infeasible(desired, self.node.allocatable)
        if message is not None:
            # Not actuated: the spec says what was asked, the status what the node keeps.
            if message == self.resize_pending:
                return False
            self.resize_pending = message
            self.say(f"resize not applied (PodResizePending, Infeasible): {message}")
            return True
        resized = bool(self.resize_pending)
        self.resize_pending = ""
        for container in self.containers:
            if container.kind == "init":
                continue  # their resources are immutable
            key = "initContainers" if container.kind == "sidecar" else "containers"
            stored = next(
                (
                    c
                    for c in stored_spec.get(key) or []
                    if isinstance(c, Mapping) and c.get("name") == container.name
                ),
                None,
            )
            resources = stored.get("resources") if stored is not None else None
            if not isinstance(resources, dict):
                continue
            if resources == container.spec.get("resources"):
                resized = self._retry(container) or resized
                continue
            try:
                values = cgroup_values(resources)
            except QuantityError as exc:
                self.say(f'container "{container.name}": resize ignored: {exc}')
                continue
            old = container.spec.get("resources") or {}
            spec = container.spec
            assert isinstance(spec, dict)  # the pod's own container entry
            spec["resources"] = copy.deepcopy(resources)
            process = container.process
            resized = True
            restart = " and ".join(restart_needed(spec, old, resources))
            if restart and process is not None and process.running and not self.stopping:
                self.say(
                    f'container "{container.name}" resized: {_describe(resources)} (was '
                    f"{_describe(old)}); restarting it (resizePolicy RestartContainer for "
                    f"{restart})"
                )
                self._restart(container, process)
                continue
            where = "not running"
            problems: list[str] = []
            if process is not None and process.running and self.supervisor is not None:
                problems = self.supervisor.tracker.set_limits(process, values)
                where = self.supervisor.tracker.describe_limits(process)
            container.resize_error = ""
            container.actual = None
            if problems and process is not None and process.limit_dirs:
                # The kubelet reports the resize in progress, with an error, until it can act.
                container.resize_error = "; ".join(problems)
                container.actual = copy.deepcopy(resources)
                kept = process.limits is not None and process.limits != values
                old_memory = (old.get("limits") or {}).get("memory")
                if kept and old_memory is not None:
                    container.actual.setdefault("limits", {})["memory"] = old_memory
            self.say(
                f'container "{container.name}" resized in place: {_describe(resources)} '
                f"(was {_describe(old)})"
            )
            if process is not None and process.limit_dirs:
                self.debug(f'container "{container.name}": cgroups {where}')
                for problem in problems:
                    self.say(f'container "{container.name}": resize in progress: {problem}')
            elif process is not None and process.running:
                self.say(f'container "{container.name}": cpu and memory limits {where}')
        return resized

    def _retry(self, container: _Container) -> bool:
        """Try again a resize left in progress (a memory limit below the usage then), as the
        kubelet does at each sync; whether it now went through."""
        process = container.process
        if not container.resize_error or process is None or not process.running:
            return False
        assert self.supervisor is not None
        try:
            values = cgroup_values(container.spec.get("resources") or {})
        except QuantityError:
            return False
        if self.supervisor.tracker.set_limits(process, values):
            return False
        container.resize_error = ""
        container.actual = None
        self.say(f'container "{container.name}": resize completed')
        return True

    def _restart(self, container: _Container, process: ContainerProcess) -> None:
        """Stop ``container`` (SIGTERM, SIGKILL after its grace period) to start it again."""
        assert self.supervisor is not None
        container.restarting = True
        container.actual = None
        container.resize_error = ""
        self.supervisor.stop(process)
        container.kill_at = time.monotonic() + self._grace()

    def _grace(self) -> float:
        """Seconds between SIGTERM and SIGKILL: ``--grace``, else the pod's
        ``terminationGracePeriodSeconds`` (30 by default)."""
        if self.options.grace is not None:
            return self.options.grace
        period = self.pod["spec"].get("terminationGracePeriodSeconds")
        return float(period) if isinstance(period, int | float) else 30.0

    # -- status and cleanup ---------------------------------------------------------------

    def _container_status(self, container: _Container) -> dict[str, Any]:
        process = container.process
        status: dict[str, Any] = {
            "name": container.name,
            "ready": False,
            "restartCount": container.restart_count,
        }
        if process is None or process.start_error:
            reason = container.reason or ("StartError" if process else "PodInitializing")
            if process is not None and process.start_error:
                status["state"] = {"terminated": {"exitCode": 128, "reason": "StartError"}}
            else:
                status["state"] = {"waiting": {"reason": reason}}
        elif process.running:
            status["state"] = {"running": {}}
            status["ready"] = not self.stopping
        else:
            code = exit_code(process.returncode or 0)
            reason = "Completed" if code == 0 else "Error"
            status["state"] = {"terminated": {"exitCode": code, "reason": reason}}
        if container.kind != "init":
            # What the kubelet has allocated (the spec once a resize is accepted) and what
            # the container has (the same, unless a resize is still in progress).
            allocated = container.spec.get("resources") or {}
            if allocated.get("requests"):
                status["allocatedResources"] = copy.deepcopy(allocated["requests"])
            actual = container.actual if container.actual is not None else allocated
            if actual:
                status["resources"] = copy.deepcopy(actual)
        return status

    def _write_status(self) -> None:
        if self.state is None:
            return
        status = {
            "phase": self.pod.get("status", {}).get("phase", "Pending"),
            "startTime": self.pod.get("status", {}).get("startTime"),
            "terminating": self.stopping,
            "initContainerStatuses": [
                self._container_status(c) for c in self.containers if c.kind != "regular"
            ],
            "containerStatuses": [
                self._container_status(c) for c in self.containers if c.kind == "regular"
            ],
        }
        errors = [
            f'container "{c.name}": {c.resize_error}' for c in self.containers if c.resize_error
        ]
        conditions = []
        if self.resize_pending:
            conditions.append(
                {
                    "type": "PodResizePending",
                    "status": "True",
                    "reason": "Infeasible",
                    "message": self.resize_pending,
                }
            )
        if errors:
            conditions.append(
                {
                    "type": "PodResizeInProgress",
                    "status": "True",
                    "reason": "Error",
                    "message": "; ".join(errors),
                }
            )
        if conditions:
            status["conditions"] = conditions
        with contextlib.suppress(OSError):
            self.state.write_status(status)

    def _cleanup(self) -> None:
        if self.supervisor is not None:
            for container in self.containers:
                if container.process is not None:
                    self.supervisor.kill(container.process)
                    if container.process.popen is not None:
                        with contextlib.suppress(Exception):
                            container.process.popen.wait(timeout=5)
        if self.inotify is not None:
            self.inotify.close()
            self.inotify = None
        if self.state is not None:
            try:
                self.state.remove()
            except OSError as exc:
                self.say(f"cannot remove {self.state.path}: {exc}")


def _describe(resources: Mapping[str, Any]) -> str:
    """``limits cpu=2,memory=1Gi requests cpu=1`` (cpu and memory only)."""
    parts = []
    for section in ("limits", "requests"):
        values = resources.get(section) or {}
        shown = [f"{k}={values[k]}" for k in ("cpu", "memory") if k in values]
        if shown:
            parts.append(f"{section} {','.join(shown)}")
    return " ".join(parts) or "no cpu or memory resources"


def _terminal_safe(text: str) -> str:
    """``text`` with every non-printable character but newline and tab escaped: manifest
    strings reach podself's messages (a ConfigMap name, a command), and an escape sequence
    in one must not drive the terminal."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() or c in "\n\t" else c.encode("unicode_escape").decode("ascii")
        for c in text
    )


def _signature(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size
