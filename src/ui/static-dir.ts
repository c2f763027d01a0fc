// Where the built page is: dist/ui-static, next to the compiled code or, when run from src/, in the
// checkout's dist/ (npm run build makes it).
import { fileURLToPath } from "node:url";

export function staticDir(): string {
  return fileURLToPath(new URL(import.meta.url.endsWith(".ts") ? "../../dist/ui-static/" : "../ui-static/", import.meta.url));
}
