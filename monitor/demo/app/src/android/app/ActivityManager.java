package android.app;

import java.util.ArrayList;
import java.util.List;

public class ActivityManager {
    public static class RunningAppProcessInfo {
        public String processName;
        public int pid;
        public RunningAppProcessInfo(String processName, int pid) { this.processName = processName; this.pid = pid; }
        public String toString() { return processName; }
    }
    public List<RunningAppProcessInfo> getRunningAppProcesses() {
        List<RunningAppProcessInfo> out = new ArrayList<>();
        out.add(new RunningAppProcessInfo("com.example.demo", 4242));
        out.add(new RunningAppProcessInfo("com.tencent.mm", 1717));
        out.add(new RunningAppProcessInfo("com.tencent.mm:push", 1718));
        return out;
    }
}
