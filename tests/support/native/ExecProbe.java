import java.io.IOException;

/**
 * Runtime.exec the way root checks and shell probes do it: each argument is one command line, run
 * `rounds` times. Prints one JSON line per attempt (the exit code, or the IOException's message) and a
 * last line counting them, so a run with the agent can be compared line by line with one without.
 * Usage: java -cp CLASSES ExecProbe ROUNDS COMMAND...
 */
public class ExecProbe {
    private static String quoted(String text) {
        return "\"" + text.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    public static void main(String[] args) throws InterruptedException {
        int rounds = Integer.parseInt(args[0]);
        int attempts = 0;
        for (int round = 0; round < rounds; round++) {
            for (int index = 1; index < args.length; index++) {
                String outcome;
                try {
                    Process process = Runtime.getRuntime().exec(args[index]);
                    outcome = "\"exit\": " + process.waitFor();
                } catch (IOException error) {
                    outcome = "\"ioexception\": " + quoted(String.valueOf(error.getMessage()));
                }
                System.out.println("{\"command\": " + quoted(args[index]) + ", " + outcome + "}");
                attempts++;
            }
        }
        System.out.println("{\"done\": " + attempts + "}");
    }
}
