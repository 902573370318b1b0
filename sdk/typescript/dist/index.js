"use strict";
// DisTorch's worker SDK: serve a task queue with a TypeScript function.
// The wire protocol is docs/worker-protocol.md in the DisTorch repository.
Object.defineProperty(exports, "__esModule", { value: true });
exports.MissingSecret = exports.Task = exports.Permanent = exports.Worker = void 0;
var worker_1 = require("./worker");
Object.defineProperty(exports, "Worker", { enumerable: true, get: function () { return worker_1.Worker; } });
var task_1 = require("./task");
Object.defineProperty(exports, "Permanent", { enumerable: true, get: function () { return task_1.Permanent; } });
Object.defineProperty(exports, "Task", { enumerable: true, get: function () { return task_1.Task; } });
var secrets_1 = require("./secrets");
Object.defineProperty(exports, "MissingSecret", { enumerable: true, get: function () { return secrets_1.MissingSecret; } });
