// A todo list component: props interfaces, hooks-style closures, JSX with conditionals.
import { useState } from 'react';

export interface Todo {
  id: number;
  title: string;
  done: boolean;
}

interface Props {
  initial: Todo[];
  onChange?: (todos: Todo[]) => void;
}

type Filter = 'all' | 'open' | 'done';

function visible(todos: Todo[], filter: Filter): Todo[] {
  switch (filter) {
    case 'open':
      return todos.filter((t) => !t.done);
    case 'done':
      return todos.filter((t) => t.done);
    default:
      return todos;
  }
}

export function TodoList({ initial, onChange }: Props) {
  const [todos, setTodos] = useState<Todo[]>(initial);
  const [filter, setFilter] = useState<Filter>('all');

  const toggle = (id: number) => {
    const next = todos.map((t) => (t.id === id ? { ...t, done: !t.done } : t));
    setTodos(next);
    if (onChange) {
      onChange(next);
    }
  };

  const shown = visible(todos, filter);
  if (todos.length === 0) {
    return <p className="empty">Nothing to do.</p>;
  }
  return (
    <div className="todos">
      <nav>
        {(['all', 'open', 'done'] as Filter[]).map((f) => (
          <button key={f} disabled={f === filter} onClick={() => setFilter(f)}>
            {f}
          </button>
        ))}
      </nav>
      <ul>
        {shown.map((todo) => (
          <li key={todo.id} className={todo.done ? 'done' : 'open'} onClick={() => toggle(todo.id)}>
            {todo.title}
          </li>
        ))}
      </ul>
      {shown.length < todos.length && <small>{todos.length - shown.length} hidden</small>}
    </div>
  );
}
