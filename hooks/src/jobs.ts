// Every installed hook, Java or native, is a job: listed and removed over RPC (`jobs`, `removeJob`).
// A hook that failed to install is a job too, with its error, so nothing is skipped silently.

export interface Job {
    id: number;
    api: string;
    hookClass: string;
    method: string;
    overload: string;
    entries: number;
    status: "installed" | "failed" | "removed";
    error: string | null;
}

interface Registered {
    job: Job;
    uninstall: (() => void) | null;
}

export class JobRegistry {
    private readonly registered: Registered[] = [];
    private nextId = 1;

    add(fields: Omit<Job, "id">, uninstall: (() => void) | null): Job {
        const job: Job = { id: this.nextId++, ...fields };
        this.registered.push({ job, uninstall });
        return job;
    }

    list(): Job[] {
        return this.registered.map((item) => ({ ...item.job }));
    }

    remove(id: number): boolean {
        const item = this.registered.find((candidate) => candidate.job.id === id);
        if (item === undefined || item.job.status !== "installed" || item.uninstall === null) {
            return false;
        }
        item.uninstall();
        item.job.status = "removed";
        return true;
    }
}
