// frida-java-bridge's dex writer (lib/mkdex.js, used by Java.registerClass), which ships no types.
declare module "frida-java-bridge/lib/mkdex.js" {
    export interface DexClassSpec {
        name: string;
        sourceFileName: string;
        superClass: string;
        interfaces: string[];
        fields: [string, string][];
        // [name, return type, argument types, thrown types, access flags]: every method is native.
        methods: [string, string, string[], string[], number][];
    }
    export default function mkdex(spec: DexClassSpec): Uint8Array;
}
