"""The device's commands, one small handler each, answering like Android's toybox and framework
tools do (output shapes follow the real outputs kept in tests/data/android/)."""

from __future__ import annotations

import hashlib
import posixpath
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from support.adbsim import ui
from support.adbsim.shell import Ctx, Handler, Result, Shell
from support.adbsim.state import INIT_NS, DeviceState, Package

FRIDA_MARK = re.compile(rb"FRIDA_SERVER_VERSION=([0-9][0-9A-Za-z.\-]*)")
PATH_DIRS = ["/sbin", "/system/sbin", "/system/bin", "/system/xbin", "/odm/bin", "/vendor/bin", "/vendor/xbin",
             "/debug_ramdisk"]
KEYCODES = {"3": "HOME", "KEYCODE_HOME": "HOME", "4": "BACK", "KEYCODE_BACK": "BACK",
            "187": "APP_SWITCH", "KEYCODE_APP_SWITCH": "APP_SWITCH"}


@dataclass
class Follow:
    """A command that keeps printing (logcat): the server pumps `next_chunk` until the stream closes."""

    state: DeviceState
    position: int
    wake: threading.Condition = field(default_factory=threading.Condition)

    def next_chunk(self, timeout: float) -> bytes:
        with self.state.lock:
            lines = self.state.logcat[self.position:]
            self.position = len(self.state.logcat)
        if lines:
            return ("\n".join(lines) + "\n").encode()
        time.sleep(timeout)
        return b""


def ok(text: str = "") -> Result:
    return Result(out=text.encode())


def fail(text: str, code: int = 1) -> Result:
    return Result(err=(text if text.endswith("\n") else text + "\n").encode(), code=code)


def check_writable(ctx: Ctx, path: str) -> str | None:
    """Why `path` cannot be written by this user, or None. /system and /apex are read-only unless a
    tmpfs or bind mount covers them; a shell user writes only under /data/local/tmp and /sdcard."""
    path = posixpath.normpath(path)
    if path.startswith(("/system", "/apex", "/vendor")):
        mount, _rel = ctx.state._layer(path, ctx.namespace)
        if mount is None:
            return "Read-only file system"
        if not ctx.is_root:
            return "Permission denied"
        return None
    if ctx.is_root:
        return None
    if path.startswith(("/data/local/tmp", "/sdcard", "/storage/emulated/0")):
        return None
    return "Permission denied"


# ---- the app model the UI and package commands share ---------------------------------------------

def app_uid(state: DeviceState, package: str) -> str:
    names = sorted(name for name, pkg in state.packages.items() if not pkg.system)
    return f"u0_a{150 + (names.index(package) if package in names else 0)}"


def launch(state: DeviceState, package: str) -> None:
    pkg = state.packages[package]
    if not state.pids_named(package):
        zygote = (state.pids_named("zygote64") or state.pids_named("zygote"))[0]
        proc = state.spawn(package, user=app_uid(state, package), ppid=zygote, own_namespace=True)
        state.logcat.append(f"{_logtime()}  1000  1000 I ActivityManager: Start proc {proc.pid}:{package}/{app_uid(state, package)} for pre-top-activity")
    state.foreground = package
    if package not in state.dialogs:
        consent = pkg.data.get("consent")
        state.dialogs[package] = "privacy" if consent is None else ("main" if consent == "agree" else "browse")


def stop_app(state: DeviceState, package: str) -> None:
    for pid in state.pids_named(package):
        state.kill(pid)
    state.dialogs.pop(package, None)
    if state.foreground == package:
        state.foreground = None


def screen_tree(state: DeviceState) -> ui.Node:
    width, height = state.screen
    package = state.foreground
    if package is None:
        return ui.launcher_tree(width, height, sorted(n for n, p in state.packages.items() if not p.system))
    screen = state.dialogs.get(package, "privacy")
    if screen == "privacy":
        return ui.privacy_dialog_tree(package, width, height)
    return ui.main_tree(package, width, height, browse_only=screen == "browse", typed=state.typed_text.get(package, ""))


def tap(state: DeviceState, x: int, y: int) -> None:
    node = ui.hit(screen_tree(state), x, y)
    state.events.append(f"tap {x},{y} -> {node.text if node else None}")
    if node is None or node.action is None:
        return
    package = state.foreground
    if node.action.startswith("open:"):
        launch(state, node.action.split(":", 1)[1])
    elif package is not None and node.action in ("agree", "refuse"):
        state.packages[package].data["consent"] = node.action
        state.dialogs[package] = "main" if node.action == "agree" else "browse"
        state.logcat.append(f"{_logtime()}  {app_uid(state, package)} I Privacy : user chose {node.action}")


def _logtime() -> str:
    return time.strftime("%m-%d %H:%M:%S.000")


# ---- handlers ------------------------------------------------------------------------------------

def h_getprop(ctx: Ctx, args: list[str]) -> Result:
    props = ctx.state.props
    if args:
        return ok(props.get(args[0], args[1] if len(args) > 1 else "") + "\n")
    return ok("".join(f"[{k}]: [{v}]\n" for k, v in sorted(props.items())))


def h_setprop(ctx: Ctx, args: list[str]) -> Result:
    if len(args) != 2:
        return fail("setprop: need 2 arguments")
    name, value = args
    if name.startswith("ro.") and name in ctx.state.props or (not ctx.is_root and not name.startswith(("debug.", "log.", "persist.log"))):
        return fail(f"Failed to set property '{name}' to '{value}'.\nSee dmesg for error reason.")
    ctx.state.props[name] = value
    return ok()


def h_settings(ctx: Ctx, args: list[str]) -> Result:
    usage = "usage:  settings [--user <USER_ID> | current] get namespace key\n"
    while args and args[0] == "--user":
        args = args[2:]
    if len(args) < 2 or args[1] not in ctx.state.settings:
        return fail(usage + "Invalid namespace" if len(args) >= 2 else usage, 255)
    verb, namespace, rest = args[0], ctx.state.settings[args[1]], args[2:]
    if verb == "get" and len(rest) == 1:
        return ok(namespace.get(rest[0], "null") + "\n")
    if verb == "put" and len(rest) >= 2:
        namespace[rest[0]] = rest[1]
        return ok()
    if verb == "delete" and len(rest) == 1:
        existed = namespace.pop(rest[0], None) is not None
        return ok(f"Deleted {int(existed)} rows\n")
    if verb == "list" and not rest:
        return ok("".join(f"{k}={v}\n" for k, v in sorted(namespace.items())))
    return fail(usage, 255)


def h_id(ctx: Ctx, args: list[str]) -> Result:
    if ctx.is_root:
        return ok("uid=0(root) gid=0(root) groups=0(root) context=u:r:su:s0\n")
    return ok("uid=2000(shell) gid=2000(shell) groups=2000(shell),1004(input),1007(log),1011(adb),1015(sdcard_rw),"
              "1028(sdcard_r),3001(net_bt_admin),3002(net_bt),3003(inet),3006(net_bw_stats) context=u:r:shell:s0\n")


def h_whoami(ctx: Ctx, args: list[str]) -> Result:
    return ok(ctx.user + "\n")


def h_getenforce(ctx: Ctx, args: list[str]) -> Result:
    return ok(ctx.state.selinux + "\n")


def h_date(ctx: Ctx, args: list[str]) -> Result:
    now = ctx.now_ns() + ctx.state.clock_skew_ns
    seconds = now // 1_000_000_000
    if not args:
        return ok(time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(seconds)) + "\n")
    fmt = args[0]
    if not fmt.startswith("+"):
        return fail("date: bad date '" + fmt + "'")
    text = fmt[1:].replace("%s", str(seconds))
    if ctx.state.date_has_nanos:
        text = text.replace("%N", f"{now % 1_000_000_000:09d}")
    return ok(text + "\n")


def h_echo(ctx: Ctx, args: list[str]) -> Result:
    if args and args[0] == "-n":
        return ok(" ".join(args[1:]))
    return ok(" ".join(args) + "\n")


def h_true(ctx: Ctx, args: list[str]) -> Result:
    return ok()


def h_false(ctx: Ctx, args: list[str]) -> Result:
    return Result(code=1)


def h_sleep(ctx: Ctx, args: list[str]) -> Result:
    return ok()


def h_uname(ctx: Ctx, args: list[str]) -> Result:
    machine = {"x86_64": "x86_64", "x86": "i686", "arm64-v8a": "aarch64", "armeabi-v7a": "armv7l"}
    if args == ["-m"]:
        return ok(machine.get(ctx.state.props.get("ro.product.cpu.abi", ""), "aarch64") + "\n")
    return ok("Linux\n")


def _proc_mounts(ctx: Ctx) -> bytes:
    lines = ["/dev/block/dm-5 / ext4 ro,seclabel,relatime 0 0", "tmpfs /dev tmpfs rw,seclabel,nosuid,relatime 0 0",
             "/dev/block/dm-36 /data f2fs rw,lazytime,seclabel,nosuid,nodev 0 0"]
    for mount in ctx.state._mounts_for(ctx.namespace):
        lines.append(f"tmpfs {mount.target} tmpfs rw,seclabel,relatime 0 0")
    return ("\n".join(lines) + "\n").encode()


# Folders only root may read (debuggerd's tombstones: drwx------ system system on a phone).
ROOT_ONLY = ("/data/tombstones",)


def _root_only(ctx: Ctx, path: str) -> bool:
    normal = posixpath.normpath(path)
    return not ctx.is_root and any(normal == top or normal.startswith(top + "/") for top in ROOT_ONLY)


def h_cat(ctx: Ctx, args: list[str]) -> Result:
    if not args:
        return Result(out=ctx.stdin)
    out = bytearray()
    for path in args:
        if _root_only(ctx, path):
            return Result(out=bytes(out), err=f"cat: {path}: Permission denied\n".encode(), code=1)
        if path in ("/proc/mounts", "/proc/self/mounts"):
            out += _proc_mounts(ctx)
            continue
        cmdline = re.fullmatch(r"/proc/(\d+)/cmdline", path)
        if cmdline:
            proc = ctx.state.processes.get(int(cmdline.group(1)))
            if proc is None:
                return Result(out=bytes(out), err=f"cat: {path}: No such file or directory\n".encode(), code=1)
            out += proc.cmdline.replace(" ", "\0").encode() + b"\0"
            continue
        file = ctx.state.read_file(path, ctx.namespace)
        if file is None:
            return Result(out=bytes(out), err=f"cat: {path}: {'Is a directory' if ctx.state.is_dir(path, ctx.namespace) else 'No such file or directory'}\n".encode(), code=1)
        out += file.data
    return Result(out=bytes(out))


def h_ls(ctx: Ctx, args: list[str]) -> Result:
    paths = [a for a in args if not a.startswith("-")] or ["/data/local/tmp"]
    out = []
    for path in paths:
        if _root_only(ctx, path):
            return fail(f"ls: {path}: Permission denied")
        names = ctx.state.list_dir(path, ctx.namespace)
        if names is None:
            if ctx.state.read_file(path, ctx.namespace) is None:
                return fail(f"ls: {path}: No such file or directory")
            out.append(path)
        else:
            out.extend(names)
    return ok("".join(n + "\n" for n in out))


def h_mkdir(ctx: Ctx, args: list[str]) -> Result:
    parents = "-p" in args
    paths = []
    skip = False
    for index, arg in enumerate(args):
        if skip:
            skip = False
            continue
        if arg == "-m":
            skip = True
        elif not arg.startswith("-"):
            paths.append(arg)
    for path in paths:
        if ctx.state.exists(path, ctx.namespace):
            if parents:
                continue
            return fail(f"mkdir: '{path}': File exists")
        denied = check_writable(ctx, path)
        if denied:
            return fail(f"mkdir: '{path}': {denied}")
        if not parents and not ctx.state.is_dir(posixpath.dirname(path), ctx.namespace):
            return fail(f"mkdir: '{path}': No such file or directory")
        ctx.state.make_dirs(path, ctx.namespace)
    return ok()


def h_rm(ctx: Ctx, args: list[str]) -> Result:
    force = any(a.startswith("-") and "f" in a for a in args)
    recursive = any(a.startswith("-") and "r" in a.lower() for a in args)
    for path in [a for a in args if not a.startswith("-")]:
        if not ctx.state.exists(path, ctx.namespace):
            if force:
                continue
            return fail(f"rm: {path}: No such file or directory")
        if ctx.state.is_dir(path, ctx.namespace) and not recursive:
            return fail(f"rm: {path}: is a directory")
        denied = check_writable(ctx, path)
        if denied:
            return fail(f"rm: {path}: {denied}")
        ctx.state.remove(path, ctx.namespace)
    return ok()


def _copy(ctx: Ctx, args: list[str], *, move: bool) -> Result:
    name = "mv" if move else "cp"
    paths = [a for a in args if not a.startswith("-")]
    if len(paths) < 2:
        return fail(f"{name}: Needs 2 arguments")
    *sources, target = paths
    target_is_dir = ctx.state.is_dir(target, ctx.namespace)
    for source in sources:
        file = ctx.state.read_file(source, ctx.namespace)
        if file is None:
            return fail(f"{name}: {source}: No such file or directory")
        destination = posixpath.join(target, posixpath.basename(source)) if target_is_dir else target
        denied = check_writable(ctx, destination)
        if denied:
            return fail(f"{name}: {destination}: {denied}")
        ctx.state.write_file(destination, file.data, file.mode, ctx.namespace, owner=ctx.user)
        if move:
            ctx.state.remove(source, ctx.namespace)
    return ok()


def h_cp(ctx: Ctx, args: list[str]) -> Result:
    return _copy(ctx, args, move=False)


def h_mv(ctx: Ctx, args: list[str]) -> Result:
    return _copy(ctx, args, move=True)


def h_chmod(ctx: Ctx, args: list[str]) -> Result:
    if len(args) < 2:
        return fail("chmod: Needs 2 arguments")
    mode, paths = args[0], [a for a in args[1:] if not a.startswith("-")]
    for path in paths:
        file = ctx.state.read_file(path, ctx.namespace)
        if file is None and not ctx.state.is_dir(path, ctx.namespace):
            return fail(f"chmod: {path}: No such file or directory")
        if file is not None and re.fullmatch(r"[0-7]{3,4}", mode):
            file.mode = int(mode, 8)
        elif file is not None and mode in ("+x", "a+x", "755"):
            file.mode |= 0o111
    return ok()


def h_chown_chcon(ctx: Ctx, args: list[str]) -> Result:
    if not ctx.is_root:
        return fail("Operation not permitted")
    for path in [a for a in args[1:] if not a.startswith("-")]:
        if not ctx.state.exists(path, ctx.namespace):
            return fail(f"{path}: No such file or directory")
    return ok()


def h_sha256sum(ctx: Ctx, args: list[str]) -> Result:
    out = []
    for path in args:
        if _root_only(ctx, path):
            return fail(f"sha256sum: {path}: Permission denied")
        file = ctx.state.read_file(path, ctx.namespace)
        if file is None:
            return fail(f"sha256sum: {path}: No such file or directory")
        out.append(f"{hashlib.sha256(file.data).hexdigest()}  {path}\n")
    return ok("".join(out))


def h_which(ctx: Ctx, args: list[str]) -> Result:
    found = []
    for name in args:
        for directory in PATH_DIRS:
            if ctx.state.read_file(posixpath.join(directory, name), ctx.namespace) is not None:
                found.append(posixpath.join(directory, name))
                break
    return Result(out="".join(f + "\n" for f in found).encode(), code=0 if len(found) == len(args) else 1)


def h_grep(ctx: Ctx, args: list[str]) -> Result:
    quiet = "-q" in args
    invert = "-v" in args
    words = [a for a in args if not a.startswith("-")]
    if not words:
        return fail("grep: no pattern", 2)
    pattern = words[0]
    lines = [line for line in ctx.stdin.decode(errors="replace").splitlines() if (pattern in line) != invert]
    return Result(out=b"" if quiet else "".join(line + "\n" for line in lines).encode(), code=0 if lines else 1)


def h_mount(ctx: Ctx, args: list[str]) -> Result:
    if not args:
        return Result(out=_proc_mounts(ctx))
    if not ctx.is_root:
        return fail("mount: need root")
    fstype = None
    bind = False
    positional: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "-t":
            fstype = args[index + 1]
            index += 2
            continue
        if arg == "-o":
            bind = bind or "bind" in args[index + 1].split(",")
            index += 2
            continue
        if arg in ("--bind", "-B"):
            bind = True
        elif not arg.startswith("-"):
            positional.append(arg)
        index += 1
    if len(positional) != 2:
        return fail("mount: need 2 arguments")
    source, target = positional
    if not ctx.state.is_dir(target, ctx.namespace):
        return fail(f"mount: '{source}'->'{target}': No such file or directory")
    if bind:
        if not ctx.state.is_dir(source, ctx.namespace):
            return fail(f"mount: '{source}'->'{target}': No such file or directory")
        ctx.state.mount(ctx.namespace, target, "bind", source)
    elif fstype == "tmpfs":
        ctx.state.mount(ctx.namespace, target, "tmpfs", source)
    else:
        return fail(f"mount: '{source}'->'{target}': Invalid argument")
    return ok()


def h_umount(ctx: Ctx, args: list[str]) -> Result:
    if not ctx.is_root:
        return fail("umount: need root")
    targets = [a for a in args if not a.startswith("-")]
    for target in targets:
        if not ctx.state.unmount(ctx.namespace, target):
            return fail(f"umount: {target}: Invalid argument")
    return ok()


def _ps_rows(ctx: Ctx) -> list[tuple[str, int, int, str]]:
    return [(p.user, p.pid, p.ppid, p.name) for p in sorted(ctx.state.processes.values(), key=lambda p: p.pid)]


def h_ps(ctx: Ctx, args: list[str]) -> Result:
    sdk = int(ctx.state.props.get("ro.build.version.sdk", "34"))
    if sdk < 26:
        if args:
            return fail(f"bad pid '{args[0]}'")
        head = "USER      PID   PPID  VSIZE  RSS   WCHAN              PC  NAME\n"
        rows = [f"{u:<9} {pid:<5} {ppid:<5} 10857084 1600  SyS_epoll_ 0000000000 S {name}\n" for u, pid, ppid, name in _ps_rows(ctx)]
        return ok(head + "".join(rows))
    if "-o" in args:
        fields = args[args.index("-o") + 1].split(",")
        values = {"PID": 1, "PPID": 2, "USER": 0, "NAME": 3, "ARGS": 3, "CMD": 3}
        rows = [" ".join(str(row[values[f]]) for f in fields) for row in _ps_rows(ctx)]
        return ok(" ".join(fields) + "\n" + "".join(r + "\n" for r in rows))
    head = "USER           PID  PPID        VSZ    RSS WCHAN            ADDR S NAME                       \n"
    rows = [f"{u:<12} {pid:>5} {ppid:>5} {10857084:>10} {1600:>6} 0                   0 S {name}\n" for u, pid, ppid, name in _ps_rows(ctx)]
    return ok(head + "".join(rows))


def h_pidof(ctx: Ctx, args: list[str]) -> Result:
    pids = [pid for name in args for pid in ctx.state.pids_named(name)]
    return Result(out=(" ".join(map(str, sorted(pids, reverse=True))) + "\n").encode() if pids else b"", code=0 if pids else 1)


def h_iptables(ctx: Ctx, argv: list[str]) -> Result:
    """iptables/ip6tables on the filter table: -C (check), -I (insert first), -A (append), -D (delete) a rule
    of a chain, as its words; -w (wait for the xtables lock) is accepted. Exit codes as iptables(8): 1 for a
    rule that is not there, 2 for bad arguments, 3 when not root."""
    tool = posixpath.basename(argv[0])
    args = [arg for arg in argv[1:] if arg != "-w"]
    if not ctx.is_root:
        return fail(f"{tool} v1.8.7 (legacy): can't initialize {tool} table `filter': Permission denied (you must be root)\n"
                    f"Perhaps {tool} or your kernel needs to be upgraded.", 3)
    if len(args) < 3 or args[0] not in ("-C", "-I", "-A", "-D") or args[1] not in ("INPUT", "OUTPUT", "FORWARD"):
        return fail(f"{tool} v1.8.7 (legacy): unknown arguments\nTry `{tool} -h' or '{tool} --help' for more information.", 2)
    verb, rule = args[0], tuple(args[1:])  # a rule is kept with its chain: (chain, *match and target words)
    rules = ctx.state.firewall.setdefault(tool, [])
    if verb == "-I":
        rules.insert(0, rule)
    elif verb == "-A":
        rules.append(rule)
    elif rule not in rules:
        return fail(f"{tool}: Bad rule (does a matching rule exist in that chain?).")
    elif verb == "-D":
        rules.remove(rule)
    return ok()


def h_kill(ctx: Ctx, args: list[str]) -> Result:
    pids = [a for a in args if not a.startswith("-") and a.isdigit()]
    for text in pids:
        pid = int(text)
        proc = ctx.state.processes.get(pid)
        if proc is None:
            return fail(f"kill: {pid}: No such process")
        if not ctx.is_root and proc.user != ctx.user:
            return fail(f"kill: {pid}: Operation not permitted")
        ctx.state.kill(pid)
    return ok()


def h_su(ctx: Ctx, args: list[str], shell: Shell) -> Result:
    mode = ctx.state.root_mode
    if mode not in ("su0", "su-c") or ctx.state.read_file("/system/xbin/su") is None:
        return fail("/system/bin/sh: su: inaccessible or not found", 127)
    root = ctx.with_user("root")
    if args[:1] == ["-c"] and len(args) >= 2:
        if mode != "su-c":
            return fail("su: invalid uid/gid '-c'")
        return shell.run(root, " ".join(args[1:]))
    if args[:1] in (["0"], ["root"]):
        if mode != "su0":
            return fail("su: unknown option -- " + args[0])
        if len(args) == 1:
            return fail("su: interactive shells are not simulated")
        return shell.exec(root, args[1:])
    return fail("su: interactive shells are not simulated")


def h_sh(ctx: Ctx, args: list[str], shell: Shell) -> Result:
    if args[:1] == ["-c"] and len(args) >= 2:
        return shell.run(ctx, args[1])
    return fail("sh: interactive shells are not simulated")


def h_nsenter(ctx: Ctx, args: list[str], shell: Shell) -> Result:
    if not ctx.is_root:
        return fail("nsenter: reassociate to namespace 'ns/mnt' failed: Operation not permitted")
    pid: int | None = None
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        match = re.fullmatch(r"--mount=/proc/(\d+)/ns/mnt", arg)
        if match:
            pid = int(match.group(1))
        elif arg == "-t":
            pid = int(rest.pop(0))
        elif arg in ("-m", "--mount"):
            continue
        elif arg == "--":
            break
        else:
            rest.insert(0, arg)
            break
    if pid is None or pid not in ctx.state.processes:
        return fail(f"nsenter: cannot open /proc/{pid}/ns/mnt: No such file or directory")
    inner = Ctx(ctx.state, ctx.user, ctx.state.processes[pid].namespace, ctx.stdin, ctx.now_ns)
    return shell.exec(inner, rest)


# package manager ----------------------------------------------------------------------------------

def _install(ctx: Ctx, args: list[str]) -> Result:
    from monitor.device.apk import read_apk_info
    from monitor.errors import DeviceError

    paths = [a for a in args if not a.startswith("-")]
    if not paths:
        return fail("Error: no package specified", 255)
    file = ctx.state.read_file(paths[-1], ctx.namespace)
    if file is None:
        return fail(f"Error: Can't open file: {paths[-1]}\nException occurred while executing 'install':", 255)
    try:
        info = read_apk_info(file.data)
    except DeviceError:
        return ok("Failure [INSTALL_PARSE_FAILED_NOT_APK: Failed to parse /data/app/vmdl.tmp/base.apk]\n")
    existing = ctx.state.packages.get(info.package)
    if existing is not None and "-r" not in args:
        return ok(f"Failure [INSTALL_FAILED_ALREADY_EXISTS: Attempt to re-install {info.package} without first uninstalling.]\n")
    apk_path = f"/data/app/{info.package}-1/base.apk"
    ctx.state.files[apk_path] = type(file)(file.data, 0o644)
    grant_all = "-g" in args
    granted = {"android.permission.INTERNET"} & set(info.permissions)
    if existing is not None:
        granted |= existing.granted
    if grant_all:
        granted = set(info.permissions)
    ctx.state.packages[info.package] = Package(info.package, info.version_code or 0, info.version_name or "", apk_path,
                                               list(info.permissions), granted=granted,
                                               data=dict(existing.data) if existing else {})
    return ok("Success\n")


def h_pm(ctx: Ctx, args: list[str]) -> Result:
    if not args:
        return fail("usage: pm [list|path|install|uninstall|clear|grant|revoke] ...", 1)
    verb, rest = args[0], args[1:]
    packages = ctx.state.packages
    if verb == "list" and rest[:1] == ["packages"]:
        third_party = "-3" in rest
        names = sorted(n for n, p in packages.items() if not (third_party and p.system))
        return ok("".join(f"package:{n}\n" for n in names))
    if verb == "install":
        return _install(ctx, rest)
    names = [a for a in rest if not a.startswith("-")]
    if not names:
        return fail(f"Error: no package specified for {verb}", 255)
    package = names[0]
    if verb == "path":
        return ok(f"package:{packages[package].apk_path}\n") if package in packages else Result(code=1)
    if package not in packages:
        if verb == "clear":
            return ok("Failed\n")
        return fail(f"Exception occurred while executing '{verb}':\njava.lang.IllegalArgumentException: Unknown package: {package}", 255)
    pkg = packages[package]
    if verb == "clear":
        stop_app(ctx.state, package)
        pkg.data.clear()
        pkg.granted &= {"android.permission.INTERNET"}
        ctx.state.typed_text.pop(package, None)
        return ok("Success\n")
    if verb == "uninstall":
        stop_app(ctx.state, package)
        del packages[package]
        return ok("Success\n")
    if verb in ("grant", "revoke"):
        if len(names) < 2:
            return fail(f"Error: no permission specified for {verb}", 255)
        permission = names[1]
        if permission not in pkg.requested_permissions:
            return fail(f"Exception occurred while executing '{verb}':\njava.lang.SecurityException: Package {package} "
                        f"has not requested permission {permission}", 255)
        if verb == "grant":
            pkg.granted.add(permission)
        else:
            pkg.granted.discard(permission)
            # Android kills an app whose runtime permission was revoked.
            stop_app(ctx.state, package)
        return ok()
    return fail(f"Unknown command: {verb}", 255)


def h_cmd(ctx: Ctx, args: list[str]) -> Result:
    if args[:1] == ["package"]:
        return h_pm(ctx, args[1:])
    if args[:1] == ["settings"]:
        return h_settings(ctx, args[1:])
    return fail(f"Can't find service: {args[0] if args else ''}", 20)


def h_dumpsys(ctx: Ctx, args: list[str]) -> Result:
    if args[:1] != ["package"] or len(args) < 2:
        return ok("")
    pkg = ctx.state.packages.get(args[1])
    if pkg is None:
        return ok("Dexopt state:\n  Unable to find package: " + args[1] + "\n")
    dangerous = [p for p in pkg.requested_permissions if p != "android.permission.INTERNET"]
    lines = [
        "Packages:",
        f"  Package [{pkg.name}] (5e1c7f2):",
        "    userId=10150",
        f"    pkg=Package{{5e1c7f2 {pkg.name}}}",
        f"    codePath={posixpath.dirname(pkg.apk_path)}",
        f"    resourcePath={posixpath.dirname(pkg.apk_path)}",
        f"    primaryCpuAbi={ctx.state.props.get('ro.product.cpu.abi')}",
        f"    versionCode={pkg.version_code} minSdk={pkg.min_sdk} targetSdk={pkg.target_sdk}",
        f"    versionName={pkg.version_name}",
        "    flags=[ HAS_CODE ALLOW_CLEAR_USER_DATA ALLOW_BACKUP ]",
        f"    firstInstallTime={pkg.first_install_time}",
        "    requested permissions:",
        *[f"      {p}" for p in pkg.requested_permissions],
        "    install permissions:",
        *(["      android.permission.INTERNET: granted=true"] if "android.permission.INTERNET" in pkg.requested_permissions else []),
        "    User 0: ceDataInode=131073 installed=true hidden=false suspended=false stopped=false notLaunched=false enabled=0 instant=false virtual=false",
        "      runtime permissions:",
        *[f"        {p}: granted={str(p in pkg.granted).lower()}, flags=[ USER_SENSITIVE_WHEN_GRANTED|USER_SENSITIVE_WHEN_DENIED]" for p in dangerous],
    ]
    return ok("\n".join(lines) + "\n")


# activity manager, input, screen ------------------------------------------------------------------

def h_am(ctx: Ctx, args: list[str]) -> Result:
    if args[:1] == ["force-stop"] and len(args) >= 2:
        stop_app(ctx.state, args[-1])
        return ok()
    if args[:1] == ["start"]:
        component = args[args.index("-n") + 1] if "-n" in args else None
        if component is None or "/" not in component:
            return fail("Error: no component given", 1)
        package = component.split("/", 1)[0]
        if package not in ctx.state.packages:
            return ok(f"Starting: Intent {{ cmp={component} }}\nError type 3\nError: Activity class {{{component}}} does not exist.\n")
        launch(ctx.state, package)
        return ok(f"Starting: Intent {{ cmp={component} }}\n")
    return fail("usage: am [start|force-stop] ...", 1)


def h_monkey(ctx: Ctx, args: list[str]) -> Result:
    package = args[args.index("-p") + 1] if "-p" in args else None
    if package is None or package not in ctx.state.packages:
        return Result(out=b"  bash arg: -p\n", err=b"** No activities found to run, monkey aborted.\n", code=252)
    launch(ctx.state, package)
    return ok("  bash arg: -p\n  bash arg: " + package + "\nEvents injected: 1\n## Network stats: elapsed time=12ms (0ms mobile, 0ms wifi, 12ms not connected)\n")


def h_input(ctx: Ctx, args: list[str]) -> Result:
    state = ctx.state
    if args[:1] == ["tap"] and len(args) == 3:
        tap(state, int(float(args[1])), int(float(args[2])))
        return ok()
    if args[:1] == ["swipe"] and len(args) >= 5:
        state.events.append("swipe " + " ".join(args[1:]))
        return ok()
    if args[:1] == ["text"] and len(args) >= 2:
        if state.foreground is not None:
            text = " ".join(args[1:]).replace("%s", " ")
            state.typed_text[state.foreground] = state.typed_text.get(state.foreground, "") + text
        return ok()
    if args[:1] == ["keyevent"] and len(args) >= 2:
        key = KEYCODES.get(args[1])
        state.events.append(f"key {key}")
        if key in ("HOME", "APP_SWITCH"):
            state.foreground = None
        elif key == "BACK" and state.foreground is not None:
            # The privacy dialog is not cancellable; elsewhere back leaves the app.
            if state.dialogs.get(state.foreground) != "privacy":
                state.foreground = None
        return ok()
    return fail("Usage: input [<source>] <command> [<arg>...]", 1)


def h_screencap(ctx: Ctx, args: list[str]) -> Result:
    width, height = ctx.state.screen
    png = ui.render_png(screen_tree(ctx.state), width, height)
    paths = [a for a in args if not a.startswith("-")]
    if paths:
        denied = check_writable(ctx, paths[0])
        if denied:
            return fail(f"Error opening file: {paths[0]} ({denied})")
        ctx.state.write_file(paths[0], png, namespace=ctx.namespace, owner=ctx.user)
        return ok()
    return Result(out=png)


def h_uiautomator(ctx: Ctx, args: list[str]) -> Result:
    if args[:1] != ["dump"]:
        return fail("Usage: uiautomator <subcommand> [options]", 1)
    path = next((a for a in args[1:] if not a.startswith("-")), "/sdcard/window_dump.xml")
    xml = ui.to_xml(screen_tree(ctx.state))
    denied = check_writable(ctx, path)
    if denied:
        return fail(f"ERROR: could not write {path}")
    ctx.state.write_file(path, xml.encode(), namespace=ctx.namespace, owner=ctx.user)
    return ok(f"UI hierchary dumped to: {path}\n")


def h_logcat(ctx: Ctx, args: list[str]) -> Result:
    if "-c" in args:
        ctx.state.logcat.clear()
        return ok()
    if "-d" in args:
        return ok("".join(line + "\n" for line in ctx.state.logcat))
    start = len(ctx.state.logcat)
    if "-T" in args:
        count = args[args.index("-T") + 1]
        start = max(0, start - int(count)) if count.isdigit() else 0
    return Result(follow=Follow(ctx.state, start))


def h_getprop_selinux(ctx: Ctx, args: list[str]) -> Result:
    if not ctx.is_root:
        return fail("setenforce: Couldn't set enforcing status to '" + (args[0] if args else "") + "': Permission denied")
    ctx.state.selinux = "Permissive" if args[:1] == ["0"] else "Enforcing"
    return ok()


def _option_value(args: list[str], short: str, long: str, default: str) -> str:
    """The last value given to an option as `-x VALUE`, `--xxx VALUE` or `--xxx=VALUE` (frida-server's syntax)."""
    value = default
    for index, arg in enumerate(args):
        if arg in (short, long) and index + 1 < len(args):
            value = args[index + 1]
        elif arg.startswith(long + "="):
            value = arg.split("=", 1)[1]
    return value

def exec_file(ctx: Ctx, argv: list[str]) -> Result | None:
    """Run a file by path: a frida-server (recognised by the version marker the test fixture and
    its real counterpart both carry) or another executable."""
    path = argv[0]
    if not path.startswith("/") and not path.startswith("./"):
        return None
    file = ctx.state.read_file(path, ctx.namespace)
    if file is None:
        return None
    if not file.mode & 0o111:
        return fail(f"/system/bin/sh: {path}: can't execute: Permission denied", 126)
    match = FRIDA_MARK.search(file.data)
    if match is None:
        return fail(f"/system/bin/sh: {path}: not executable: 64-bit ELF file", 126)
    version = match.group(1).decode()
    args = argv[1:]
    if "--version" in args:
        return ok(version + "\n")
    if not ctx.is_root:
        return fail("Unable to load SELinux policy from the kernel: Failed to open file ?/sys/fs/selinux/policy?: Permission denied", 1)
    # frida-server listens on 127.0.0.1:27042 unless told `-l/--listen ADDRESS[:PORT]` (default port 27042).
    address = _option_value(args, "-l", "--listen", "127.0.0.1:27042")
    host, _, port_text = address.rpartition(":") if ":" in address else (address, "", "27042")
    if not port_text.isdigit():
        return fail(f"Unable to start server: invalid listen address {address}", 1)
    port = int(port_text)
    if ctx.state.listener(port) is not None:
        return fail(f"Unable to start server: Error binding to address {host}:{port}: Address already in use", 1)
    # Its agent and helpers go into /data/local/tmp/DIRECTORY (`-d`, default re.frida.server), left behind when it stops.
    directory = _option_value(args, "-d", "--directory", "re.frida.server")
    proc = ctx.state.spawn(posixpath.basename(path), user="root", ppid=1, namespace=INIT_NS, cmdline=" ".join(argv),
                           exe_path=path)
    proc.listen_port = port
    ctx.state.dirs.add(posixpath.join("/data/local/tmp", directory))
    return ok()


def make_shell() -> Shell:
    handlers: dict[str, Handler] = {
        "getprop": h_getprop, "setprop": h_setprop, "settings": h_settings, "id": h_id, "whoami": h_whoami,
        "getenforce": h_getenforce, "setenforce": h_getprop_selinux, "date": h_date, "echo": h_echo, "true": h_true,
        "false": h_false, "sleep": h_sleep, "uname": h_uname, "cat": h_cat, "ls": h_ls, "mkdir": h_mkdir, "rm": h_rm,
        "cp": h_cp, "mv": h_mv, "chmod": h_chmod, "chown": h_chown_chcon, "chcon": h_chown_chcon,
        "sha256sum": h_sha256sum, "which": h_which, "grep": h_grep, "mount": h_mount, "umount": h_umount,
        "ps": h_ps, "pidof": h_pidof, "kill": h_kill, "pm": h_pm, "cmd": h_cmd, "dumpsys": h_dumpsys, "am": h_am,
        "monkey": h_monkey, "input": h_input, "screencap": h_screencap, "uiautomator": h_uiautomator,
        "logcat": h_logcat,
        "iptables": lambda ctx, args: h_iptables(ctx, ["iptables", *args]),
        "ip6tables": lambda ctx, args: h_iptables(ctx, ["ip6tables", *args]),
    }
    shell = Shell(handlers, exec_file)
    bound: dict[str, Callable[[Ctx, list[str]], Result]] = {
        "su": lambda ctx, args: h_su(ctx, args, shell),
        "sh": lambda ctx, args: h_sh(ctx, args, shell),
        "nsenter": lambda ctx, args: h_nsenter(ctx, args, shell),
    }
    handlers.update(bound)
    return shell
